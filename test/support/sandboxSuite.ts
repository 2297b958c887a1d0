// The lifecycle every sandbox kernel suite repeats: fresh deps before, the policy's
// sandbox torn down after each test (and every sl-<prefix> namespace removed, also on
// failure), the kernel socket closed at the end. Call inside describeKernel's body.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { teardownDemo, type DemoDeps } from '../../src/demo/run';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { Policy } from '../../src/policy/model';
import { removeNamespaces } from './kernel';

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
    await removeNamespaces(`sl-${prefix}`);
    kernel = new RtnlKernel();
    deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
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
