// Opening the real kernel for a command: root check, the netlink port, feature
// detection, and the inversify container around them. close() always releases sockets.

import type { Container } from 'inversify';
import { Applier, type NamespaceProbe } from '../apply/applier';
import type { KernelFeatures } from '../compile';
import { PermissionError } from '../errors';
import { detectFeatures } from '../kernel/rtnl/features';
import { netnsExists, readSysctl } from '../kernel/native';
import { openRtnlKernel } from '../kernel/rtnl/port';
import type { KernelPort } from '../kernel/port';
import type { Policy } from '../policy/model';
import type { KernelState } from '../tc/model';
import { APP_TOKENS, buildContainer } from './container';
import type { Logger } from './tokens';

export const nativeProbe: NamespaceProbe = {
  exists: (ns) => netnsExists(ns),
  readSysctl: (ns, key) => {
    try {
      return readSysctl(ns, key);
    } catch {
      return undefined;
    }
  },
};

export interface Runtime {
  readonly container: Container;
  readonly kernel: KernelPort;
  readonly applier: Applier;
  readonly features: KernelFeatures;
  close(): Promise<void>;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export interface RuntimeOptions {
  /** Follow the kernel's change announcements (a long-running reconciler; see RtnlKernelOptions). */
  readonly followChanges?: boolean;
}

export async function openRuntime(action: string, logger?: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  if (!isRoot()) throw new PermissionError(action);
  const kernel = await openRtnlKernel({ followChanges: options.followChanges === true });
  try {
    const features = await detectFeatures();
    const container = buildContainer({ kernel, probe: nativeProbe, features, ...(logger ? { logger } : {}) });
    return { container, kernel, features, applier: container.get<Applier>(APP_TOKENS.Applier), close: () => kernel.close() };
  } catch (e) {
    await kernel.close();
    throw e;
  }
}

/** The kernel state a policy covers (for `plan` as root). */
export async function observeCurrent(policy: Policy): Promise<KernelState> {
  const runtime = await openRuntime('reading the kernel state');
  try {
    return (await runtime.applier.plan(policy)).observed;
  } finally {
    await runtime.close();
  }
}
