// Ownership: links, addresses, routes, qdiscs and filters Sluice did not create, put in
// every namespace it works in (its sandbox host namespace, a container's namespace, the
// namespace of a bridge it shapes but does not own, and on that bridge itself), survive
// apply, the daemon's ticks and destroy. What holds them is kept and reported.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { silentLogger } from '../../src/ports/logger';
import { nativeProbe } from '../../src/wiring/runtime';
import { systemClock } from '../../src/ports/clock';
import type { KernelFeatures } from '../../src/compile';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { Reconciler } from '../../src/reconcile/reconciler';
import { objectKey } from '../../src/tc/identity';
import { describeKernel, netnsList, removeNamespaces, sh } from '../support/kernel';
import { externalBridgePolicy, leftovers, makeExternalBridge } from '../support/ownership';
import { demoPolicyFor } from '../support/policy';

const EXT_NS = 'sl-fp-ext';
const EXT_BRIDGE = 'fp-br';
const sandbox = demoPolicyFor('fo-');
const external = externalBridgePolicy('fp-', EXT_NS, EXT_BRIDGE);

/** A foreign device with an address, a route through it, a root qdisc and an ingress filter. */
const FOREIGN = [
  { netns: 'sl-fo-host', dev: 'fx0', net: '198.19.250' },
  { netns: 'sl-fo-web', dev: 'fy0', net: '198.19.252' },
  { netns: EXT_NS, dev: 'fz0', net: '198.19.254' },
] as const;

async function placeForeign(f: (typeof FOREIGN)[number]): Promise<void> {
  const ns = ['-n', f.netns];
  await sh('ip', [...ns, 'link', 'add', f.dev, 'type', 'bridge']);
  await sh('ip', [...ns, 'addr', 'add', `${f.net}.1/24`, 'dev', f.dev]);
  await sh('ip', [...ns, 'link', 'set', f.dev, 'up']);
  await sh('ip', [...ns, 'route', 'add', `${f.net.replace(/\d+$/, (x) => String(Number(x) + 1))}.0/24`, 'via', `${f.net}.2`, 'dev', f.dev]);
  await sh('tc', [...ns, 'qdisc', 'add', 'dev', f.dev, 'root', 'handle', '7:', 'htb']);
  await sh('tc', [...ns, 'qdisc', 'add', 'dev', f.dev, 'ingress']);
  await sh('tc', [...ns, 'filter', 'add', 'dev', f.dev, 'parent', 'ffff:', 'prio', '5', 'protocol', 'ip', 'u32', 'match', 'ip', 'dst', `${f.net}.9/32`, 'classid', '1:1']);
}

/** How the foreign objects look, as `ip` and `tc` print them. */
async function foreignState(): Promise<string> {
  const out: string[] = [];
  for (const f of FOREIGN) {
    const ns = ['-n', f.netns];
    out.push(await sh('ip', [...ns, '-br', 'addr', 'show', 'dev', f.dev]), await sh('ip', [...ns, 'route', 'show', 'dev', f.dev]), await sh('tc', [...ns, 'qdisc', 'show', 'dev', f.dev]), await sh('tc', [...ns, 'filter', 'show', 'dev', f.dev, 'ingress']));
  }
  out.push(await sh('tc', ['-n', EXT_NS, 'filter', 'show', 'dev', EXT_BRIDGE, 'ingress', 'prio', '40000']));
  // A counter, not state: the kernel's own IPv6 router and neighbour solicitations on the
  // foreign bridges go through their HTB root's direct queue while the test runs.
  return out.join('\n').replace(/direct_packets_stat \d+/g, 'direct_packets_stat N');
}

describeKernel('ownership: foreign objects in every namespace survive apply, serve and destroy', [], () => {
  let kernel: RtnlKernel;
  let following: RtnlKernel;
  let features: KernelFeatures;
  const stores = { sandbox: new MemoryOwnershipStore(), external: new MemoryOwnershipStore() };

  beforeAll(async () => {
    await removeNamespaces('sl-fo-');
    await removeNamespaces('sl-fp-');
    kernel = new RtnlKernel();
    following = new RtnlKernel({ followChanges: true });
    features = await detectFeatures();
  });

  afterAll(async () => {
    await kernel?.close();
    await following?.close();
    await removeNamespaces('sl-fo-');
    await removeNamespaces('sl-fp-');
  });

  it('are left alone, reported as foreign, and keep what holds them', async () => {
    // The bridge someone else made already carries their ingress hook and a filter on it.
    await makeExternalBridge(EXT_NS, EXT_BRIDGE, '198.18.0.1/24');
    await sh('tc', ['-n', EXT_NS, 'qdisc', 'add', 'dev', EXT_BRIDGE, 'ingress']);
    await sh('tc', ['-n', EXT_NS, 'filter', 'add', 'dev', EXT_BRIDGE, 'parent', 'ffff:', 'prio', '40000', 'protocol', 'ip', 'u32', 'match', 'ip', 'dst', '198.19.255.9/32', 'classid', '1:1']);
    const applier = new Applier(kernel, stores.sandbox, nativeProbe, features);
    expect((await applier.apply(sandbox)).report.failed).toBeUndefined();
    expect((await new Applier(kernel, stores.external, nativeProbe, features).apply(external)).report.failed).toBeUndefined();
    for (const f of FOREIGN) await placeForeign(f);
    const placed = await foreignState();

    // apply again: nothing to do, the foreign objects reported.
    const again = await applier.apply(sandbox);
    expect(again.plan).toEqual([]);
    expect(again.foreign.map(objectKey)).toEqual(expect.arrayContaining(['sl-fo-host/link/fx0', 'sl-fo-host/addr/fx0/198.19.250.1/24', 'sl-fo-web/link/fy0', 'sl-fo-web/route/198.19.253.0/24']));
    expect((await new Applier(kernel, stores.external, nativeProbe, features).apply(external)).plan).toEqual([]);

    // serve: a daemon's ticks, following the kernel's announcements.
    for (const [policy, store] of [[sandbox, stores.sandbox], [external, stores.external]] as const) {
      const reconciler = new Reconciler(new Applier(following, store, nativeProbe, features), systemClock, silentLogger);
      reconciler.setPolicy(policy);
      for (let i = 0; i < 2; i++) {
        const tick = await reconciler.tick();
        expect(tick.error).toBeUndefined();
        expect(tick.operations).toBe(0);
      }
    }
    expect(await foreignState()).toBe(placed);

    // destroy: Sluice's objects go; the foreign ones and the namespaces holding them stay.
    const gone = await applier.destroy(sandbox.host.name);
    expect(gone.report.failed).toBeUndefined();
    expect(gone.kept.map(objectKey).sort()).toEqual(['netns/sl-fo-host', 'netns/sl-fo-web']);
    const goneExternal = await new Applier(kernel, stores.external, nativeProbe, features).destroy(external.host.name);
    expect(goneExternal.report.failed).toBeUndefined();
    await expect.poll(() => leftovers('sl-fo-', ['sl-fo-host', 'sl-fo-web'], []), { timeout: 10_000, interval: 100 }).toEqual([]);
    await expect.poll(() => leftovers('sl-fp-', [EXT_NS], []), { timeout: 10_000, interval: 100 }).toEqual([]);
    expect(await foreignState()).toBe(placed);
    // On the bridge it does not own: its HTB root and its redirect are gone, their hook stays.
    const qdiscs = await sh('tc', ['-n', EXT_NS, 'qdisc', 'show', 'dev', EXT_BRIDGE]);
    expect(qdiscs).not.toMatch(/htb/);
    expect(qdiscs).toMatch(/ingress/);
    expect(await sh('tc', ['-n', EXT_NS, 'filter', 'show', 'dev', EXT_BRIDGE, 'ingress'])).not.toMatch(/mirred/);
    expect((await netnsList()).filter((n) => n.startsWith('sl-fo-')).sort()).toEqual(['sl-fo-host', 'sl-fo-web']);

    // A second destroy finds only what it keeps, and changes nothing.
    const twice = await applier.destroy(sandbox.host.name);
    expect(twice.report.failed).toBeUndefined();
    expect(twice.plan).toEqual([]);
    expect(await foreignState()).toBe(placed);
  });
});
