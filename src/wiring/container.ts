// The composition root: every part a command uses (kernel port, sources, applier,
// reconciler, metrics, daemon, clock, logger, control socket) is bound here and only
// here. Commands resolve what they need; tests rebind what they fake (clock, kernel).
// The kernel is opened on first resolution, so commands that never touch it never open it.

import 'reflect-metadata';
import { Container } from 'inversify';
import { Applier, type NamespaceProbe } from '../apply/applier';
import type { KernelFeatures } from '../compile';
import { DEFAULT_CONTROL_SOCKET } from '../daemon/control';
import { Daemon, type DaemonOptions } from '../daemon/serve';
import { heapHeadroom } from '../daemon/heapHeadroom';
import type { KernelPort } from '../kernel/port';
import { detectFeatures } from '../kernel/rtnl/features';
import { openRtnlKernel } from '../kernel/rtnl/port';
import { RtnlVethPeers } from '../kernel/rtnl/vethPeers';
import { createMetrics, type SluiceMetrics } from '../metrics/metrics';
import { Reconciler } from '../reconcile/reconciler';
import { CniSourceFactory } from '../sources/cni/source';
import { DockerSourceFactory } from '../sources/docker/source';
import { FilesSource } from '../sources/files/source';
import { PolicyLoader } from '../sources/loader';
import type { WorkloadSourceFactory } from '../sources/source';
import { systemClock, type Clock } from '../ports/clock';
import { silentLogger, type Logger } from '../ports/logger';
import { nativeProbe } from './probe';
import { FileOwnershipStore, ownershipDir, type OwnershipStore } from '../ports/ownership';
import { TOKENS } from './tokens';

const VERSION = (require('../../package.json') as { version: string }).version;

export interface WiringOptions {
  /** Policy files and directories. */
  readonly paths?: readonly string[];
  /** --docker-endpoint. */
  readonly dockerEndpoint?: string;
  readonly logger?: Logger;
  /** A long-running reconciler follows the kernel's change announcements (see RtnlKernelOptions). */
  readonly followKernelChanges?: boolean;
  readonly controlSocket?: string;
}

export function buildContainer(options: WiringOptions = {}): Container {
  const c = new Container();
  c.bind<Clock>(TOKENS.Clock).toConstantValue(systemClock);
  c.bind<Logger>(TOKENS.Logger).toConstantValue(options.logger ?? silentLogger);
  c.bind<string>(TOKENS.ControlSocket).toConstantValue(options.controlSocket ?? DEFAULT_CONTROL_SOCKET);
  bindKernel(c, options);
  bindSources(c, options);
  bindLoop(c);
  return c;
}

function bindKernel(c: Container, options: WiringOptions): void {
  c.bind<KernelPort>(TOKENS.KernelPort).toDynamicValue(() => openRtnlKernel({ followChanges: options.followKernelChanges === true })).inSingletonScope();
  c.bind<KernelFeatures>(TOKENS.Features).toDynamicValue(() => detectFeatures()).inSingletonScope();
  c.bind<NamespaceProbe>(TOKENS.NamespaceProbe).toConstantValue(nativeProbe);
  c.bind<OwnershipStore>(TOKENS.OwnershipStore).toDynamicValue(() => new FileOwnershipStore(ownershipDir())).inSingletonScope();
  c.bind<Applier>(TOKENS.Applier)
    .toDynamicValue(async (ctx) => new Applier(await ctx.getAsync<KernelPort>(TOKENS.KernelPort), ctx.get(TOKENS.OwnershipStore), ctx.get(TOKENS.NamespaceProbe), await ctx.getAsync<KernelFeatures>(TOKENS.Features)))
    .inSingletonScope();
}

/** Adding a workload source: its folder under src/sources, and one binding here. */
function bindSources(c: Container, options: WiringOptions): void {
  c.bind<FilesSource>(TOKENS.FilesSource).toDynamicValue((ctx) => new FilesSource(options.paths ?? [], ctx.get(TOKENS.Logger))).inSingletonScope();
  c.bind<WorkloadSourceFactory>(TOKENS.WorkloadSourceFactory)
    .toDynamicValue((ctx) => new DockerSourceFactory({ logger: ctx.get(TOKENS.Logger), vethPeers: new RtnlVethPeers(), ...(options.dockerEndpoint ? { endpoint: options.dockerEndpoint } : {}) }))
    .inSingletonScope();
  c.bind<WorkloadSourceFactory>(TOKENS.WorkloadSourceFactory)
    .toDynamicValue((ctx) => new CniSourceFactory(ctx.get(TOKENS.Logger)))
    .inSingletonScope();
  c.bind<PolicyLoader>(TOKENS.PolicyLoader)
    .toDynamicValue((ctx) => new PolicyLoader(ctx.get(TOKENS.FilesSource), ctx.getAll<WorkloadSourceFactory>(TOKENS.WorkloadSourceFactory)))
    .inSingletonScope();
}

function bindLoop(c: Container): void {
  c.bind<Reconciler>(TOKENS.Reconciler)
    .toDynamicValue(async (ctx) => new Reconciler(await ctx.getAsync<Applier>(TOKENS.Applier), ctx.get(TOKENS.Clock), ctx.get(TOKENS.Logger)))
    .inSingletonScope();
  c.bind<SluiceMetrics>(TOKENS.Metrics)
    .toDynamicValue(async (ctx) => {
      const reconciler = await ctx.getAsync<Reconciler>(TOKENS.Reconciler);
      return createMetrics({ snapshot: () => reconciler.current.snapshot }, VERSION);
    })
    .inSingletonScope();
  c.bind<Daemon>(TOKENS.Daemon)
    .toDynamicValue(async (ctx) => {
      const metrics = await ctx.getAsync<SluiceMetrics>(TOKENS.Metrics);
      const options: DaemonOptions = { ...ctx.get<Omit<DaemonOptions, 'controlSocket'>>(TOKENS.DaemonOptions), controlSocket: ctx.get<string>(TOKENS.ControlSocket) };
      const headroom = heapHeadroom();
      return new Daemon(await ctx.getAsync<Reconciler>(TOKENS.Reconciler), ctx.get(TOKENS.PolicyLoader), ctx.get(TOKENS.Clock), ctx.get(TOKENS.Logger), options, {
        onTick: (r) => {
          metrics.observeTick(r);
          headroom.makeRoom();
        },
        onAnswered: () => headroom.makeRoom(),
        onReloadFailure: () => metrics.reloadFailed(),
        onUnshaped: (unshaped) => metrics.observeUnshaped(unshaped),
      });
    })
    .inSingletonScope();
}
