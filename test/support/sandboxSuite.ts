// The lifecycles sandbox kernel suites repeat, called inside describeKernel's body:
// sandboxSuite: fresh deps before, the policy each test applies torn down after it;
// builtSandbox: one policy's sandbox built before the suite and torn down after it.
// Both remove every sl-<prefix> namespace, also on failure, and close the kernel socket.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { buildSandbox, teardownDemo, type DemoDeps } from '../../src/demo/run';
import type { CompiledPolicy } from '../../src/compile';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { Policy } from '../../src/policy/model';
import { PEER_NETNS } from '../../src/demo/peer';
import { removeNamespaces } from './kernel';

/**
 * The suite's namespaces, and the demo peer every sandbox suite shares: a run killed
 * before its teardown leaves sl-peer (with its eth0) behind, and every later sandbox
 * then fails to create the peer (EEXIST). The kernel suite runs one file at a time.
 */
async function removeLeftovers(prefix: string): Promise<void> {
  await removeNamespaces(`sl-${prefix}`);
  await removeNamespaces(PEER_NETNS);
}

export interface SandboxSuite {
  /** The suite's kernel and applier (set in beforeAll). */
  readonly deps: () => DemoDeps;
  /** The policy a test applies: torn down after it. */
  readonly uses: (policy: Policy) => Policy;
}

export function sandboxSuite(prefix: string, banner: string): SandboxSuite {
  let deps: DemoDeps | undefined;
  let kernel: RtnlKernel | undefined;
  let current: Policy | undefined;
  beforeAll(async () => {
    console.log(banner);
    await removeLeftovers(prefix);
    ({ kernel, deps } = await openDeps());
  });
  afterEach(async () => {
    if (current && deps) await teardownDemo(deps, current).catch(() => undefined);
    current = undefined;
    await removeNamespaces(`sl-${prefix}`);
  });
  afterAll(async () => {
    await kernel?.close();
    await removeNamespaces(`sl-${prefix}`);
  });
  return {
    deps: () => deps!,
    uses: (policy) => {
      current = policy;
      return policy;
    },
  };
}

export interface BuiltSandbox {
  /** The suite's kernel and applier, and the policy as compiled into its sandbox (set in beforeAll). */
  readonly deps: () => DemoDeps;
  readonly compiled: () => CompiledPolicy;
}

/** `policy`'s sandbox (namespaces named sl-<prefix>…), built once for the suite. */
export function builtSandbox(prefix: string, policy: Policy): BuiltSandbox {
  let deps: DemoDeps | undefined;
  let kernel: RtnlKernel | undefined;
  let compiled: CompiledPolicy | undefined;
  beforeAll(async () => {
    await removeLeftovers(prefix);
    ({ kernel, deps } = await openDeps());
    compiled = await buildSandbox(deps, policy, () => undefined);
  });
  afterAll(async () => {
    if (deps) await teardownDemo(deps, policy).catch(() => undefined);
    await kernel?.close();
    await removeNamespaces(`sl-${prefix}`);
  });
  return { deps: () => deps!, compiled: () => compiled! };
}

async function openDeps(): Promise<{ kernel: RtnlKernel; deps: DemoDeps }> {
  const kernel = new RtnlKernel();
  return { kernel, deps: { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) } };
}
