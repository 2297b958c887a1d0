// inversify tokens for everything the composition root (container.ts) wires. The ports
// themselves (clock, logger, ownership store) live in src/ports/.

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
