// Loggers: JSON lines for the daemon (machines read them), quiet for one-shot commands.
import type { Logger, LogLevel } from './tokens';

export class JsonLogger implements Logger {
  constructor(private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {}
  log(level: LogLevel, event: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`);
  }
}

export const silentLogger: Logger = { log: () => undefined };
