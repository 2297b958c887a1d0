// Ownership: applying to a host whose bridge (or sandbox namespace) already exists and is
// not Sluice's is refused before any change, with a message that says how to declare it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { ForeignObjectError } from '../../src/apply/errors';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import type { KernelFeatures } from '../../src/compile';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { describeKernel, netnsList, removeNamespaces, sh } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';

const HOST_NS = 'sl-eb-ext';

/** Everything an apply could have changed, as `ip` and `tc` print it. */
async function snapshot(): Promise<string> {
  const parts = [JSON.stringify((await netnsList()).filter((n) => n.startsWith('sl-eb-')).sort())];
  for (const ns of [HOST_NS, 'sl-eb-host']) {
    if (!(await netnsList()).includes(ns)) continue;
    parts.push(await sh('ip', ['-n', ns, '-d', 'link', 'show']), await sh('ip', ['-n', ns, 'addr', 'show']), await sh('ip', ['-n', ns, 'route', 'show']), await sh('tc', ['-n', ns, 'qdisc', 'show']));
  }
  return parts.join('\n');
}

describeKernel('ownership: an existing bridge or namespace that is not Sluice\'s is refused before any change', [], () => {
  let kernel: RtnlKernel;
  let features: KernelFeatures;

  beforeAll(async () => {
    await removeNamespaces('sl-eb-');
    kernel = new RtnlKernel();
    features = await detectFeatures();
  });

  afterAll(async () => {
    await kernel?.close();
    await removeNamespaces('sl-eb-');
  });

  it('a bridge someone else made, under the name the policy gives its bridge', async () => {
    await sh('ip', ['netns', 'add', HOST_NS]);
    await sh('ip', ['-n', HOST_NS, 'link', 'add', 'cni0', 'type', 'bridge']);
    const policy = demoPolicyFor('eb-', (t) => t.replace('netns: sl-host', `netns: /run/netns/${HOST_NS}`).replace('bridge: sl-br0', 'bridge: cni0'));
    const store = new MemoryOwnershipStore();
    const before = await snapshot();
    const error = await new Applier(kernel, store, nativeProbe, features).apply(policy).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ForeignObjectError);
    const refused = error as ForeignObjectError;
    expect(refused.code).toBe('EFOREIGN');
    expect(refused.message).toMatch(/refused before any change/);
    expect(refused.message).toMatch(/cni0/);
    expect(refused.hint).toMatch(/external/);
    expect(await snapshot()).toBe(before);
    expect(await store.read(policy.host.name)).toBeUndefined();
    // destroy has nothing of Sluice's to remove, and removes nothing.
    await new Applier(kernel, store, nativeProbe, features).destroy(policy.host.name, policy);
    expect(await snapshot()).toBe(before);
    await sh('ip', ['netns', 'del', HOST_NS]);
  });

  it('a sandbox namespace of the policy\'s name that Sluice has no record of', async () => {
    await sh('ip', ['netns', 'add', 'sl-eb-host']);
    const policy = demoPolicyFor('eb-');
    const before = await snapshot();
    await expect(new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, features).apply(policy)).rejects.toThrow(/sl-eb-host already exists/);
    expect(await snapshot()).toBe(before);
    await sh('ip', ['netns', 'del', 'sl-eb-host']);
  });
});
