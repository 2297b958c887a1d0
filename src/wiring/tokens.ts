// inversify tokens for everything the composition root (container.ts) wires, and the
// small port interfaces that are not the kernel's.

export const TOKENS = {
  Clock: Symbol.for('sluice.Clock'),
  Logger: Symbol.for('sluice.Logger'),
  KernelPort: Symbol.for('sluice.KernelPort'),
  Features: Symbol.for('sluice.Features'),
  NamespaceProbe: Symbol.for('sluice.NamespaceProbe'),
  OwnershipStore: Symbol.for('sluice.OwnershipStore'),
  Applier: Symbol.for('sluice.Applier'),
  Reconciler: Symbol.for('sluice.Reconciler'),
  Metrics: Symbol.for('sluice.Metrics'),
  Daemon: Symbol.for('sluice.Daemon'),
  DaemonOptions: Symbol.for('sluice.DaemonOptions'),
  ControlSocket: Symbol.for('sluice.ControlSocket'),
  FilesSource: Symbol.for('sluice.FilesSource'),
  /** One binding per workload source (docker, cni, …): the loader asks them all. */
  WorkloadSourceFactory: Symbol.for('sluice.WorkloadSourceFactory'),
  PolicyLoader: Symbol.for('sluice.PolicyLoader'),
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
