// The composition root: the kernel, clock, filesystem and logger behind their small
// interfaces, wired with inversify. Commands ask the container; tests build their own.

import 'reflect-metadata';
import { Container } from 'inversify';
import { Applier, type NamespaceProbe } from '../apply/applier';
import type { KernelFeatures } from '../compile';
import type { KernelPort } from '../kernel/port';
import { FileOwnershipStore, type OwnershipStore } from './ownership';
import { TOKENS, systemClock, type Clock, type Logger } from './tokens';
import { silentLogger } from './logger';

export const APP_TOKENS = {
  ...TOKENS,
  OwnershipStore: Symbol.for('sluice.OwnershipStore'),
  NamespaceProbe: Symbol.for('sluice.NamespaceProbe'),
  Features: Symbol.for('sluice.Features'),
  Applier: Symbol.for('sluice.Applier'),
} as const;

export interface ContainerParts {
  readonly kernel: KernelPort;
  readonly probe: NamespaceProbe;
  readonly features: KernelFeatures;
  readonly store?: OwnershipStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export function buildContainer(parts: ContainerParts): Container {
  const c = new Container();
  c.bind<KernelPort>(APP_TOKENS.KernelPort).toConstantValue(parts.kernel);
  c.bind<NamespaceProbe>(APP_TOKENS.NamespaceProbe).toConstantValue(parts.probe);
  c.bind<KernelFeatures>(APP_TOKENS.Features).toConstantValue(parts.features);
  c.bind<OwnershipStore>(APP_TOKENS.OwnershipStore).toConstantValue(parts.store ?? new FileOwnershipStore());
  c.bind<Clock>(APP_TOKENS.Clock).toConstantValue(parts.clock ?? systemClock);
  c.bind<Logger>(APP_TOKENS.Logger).toConstantValue(parts.logger ?? silentLogger);
  c.bind<Applier>(APP_TOKENS.Applier)
    .toDynamicValue((ctx) => new Applier(ctx.get(APP_TOKENS.KernelPort), ctx.get(APP_TOKENS.OwnershipStore), ctx.get(APP_TOKENS.NamespaceProbe), ctx.get(APP_TOKENS.Features)))
    .inSingletonScope();
  return c;
}
