// inversify tokens for the ports, and the small port interfaces that are not the kernel.

export const TOKENS = {
  KernelPort: Symbol.for('sluice.KernelPort'),
  NetlinkChannelFactory: Symbol.for('sluice.NetlinkChannelFactory'),
  Clock: Symbol.for('sluice.Clock'),
  PolicySource: Symbol.for('sluice.PolicySource'),
  MetricsRegistry: Symbol.for('sluice.MetricsRegistry'),
  Logger: Symbol.for('sluice.Logger'),
} as const;

/** Time, injected so tests step it instead of waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds, for rates and durations. */
  monotonic(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured logs: one JSON object per line in the daemon. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Readonly<Record<string, unknown>>): void;
}
