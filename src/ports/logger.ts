// Logging, a port, and its two implementations: JSON lines for the daemon (machines
// read them), quiet for one-shot commands.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured logs: one JSON object per line in the daemon. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Readonly<Record<string, unknown>>): void;
}

const ORDER: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export class JsonLogger implements Logger {
  constructor(
    private readonly minLevel: LogLevel = 'info',
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  log(level: LogLevel, event: string, fields: Readonly<Record<string, unknown>> = {}): void {
    if (ORDER[level] < ORDER[this.minLevel]) return;
    this.write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`);
  }
}

export const silentLogger: Logger = { log: () => undefined };
