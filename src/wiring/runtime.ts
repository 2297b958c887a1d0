// Opening the real kernel for a command: root check, then the applier (and with it the
// netlink port and feature detection) resolved from the container. close() always
// releases the sockets.

import type { Container } from 'inversify';
import type { Applier } from '../apply/applier';
import type { KernelFeatures } from '../compile';
import { PermissionError } from '../errors';
import { ALWAYS_NEEDED, lackingHere } from '../kernel/capabilities';
import type { KernelPort } from '../kernel/port';
import { TOKENS } from './tokens';

export { nativeProbe } from './probe';

export interface Runtime {
  readonly container: Container;
  readonly kernel: KernelPort;
  readonly applier: Applier;
  readonly features: KernelFeatures;
  close(): Promise<void>;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export async function openRuntime(container: Container, action: string): Promise<Runtime> {
  if (!isRoot()) throw new PermissionError(action);
  const lacks = lackingHere(ALWAYS_NEEDED);
  if (lacks.length > 0) throw new PermissionError(action, lacks);
  const kernel = await container.getAsync<KernelPort>(TOKENS.KernelPort);
  try {
    const applier = await container.getAsync<Applier>(TOKENS.Applier);
    const features = await container.getAsync<KernelFeatures>(TOKENS.Features);
    return { container, kernel, features, applier, close: () => kernel.close() };
  } catch (e) {
    await kernel.close();
    throw e;
  }
}
