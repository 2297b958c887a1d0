// The sluice CNI plugin chained after the reference bridge + host-local plugins, run the
// way a runtime runs it, with `serve` shaping what it records: ADD → shaped within a
// tick (the tick is a minute: the plugin's poke does it), CHECK passes, then fails once
// the shaping is removed; one more pod is shaped when its ADD returns, and so is each
// of two more back to back (their changes chained, no tick between); DEL twice →
// unshaped and gone, GC removes stale attachments.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { ChangeOutcome } from '../../src/apply/applier';
import { objectKey } from '../../src/tc/identity';
import { stateLists } from '../../src/tc/model';
import type { TickAfterChange } from '../../src/daemon/serve';
import { classOnBridge, CNI_BRIDGE, CNI_HOST_NETNS, CNI_NETWORK, cniTestbed, type PodSpec, until } from '../support/cni';
import { describeKernel, sh } from '../support/kernel';

const TICK_MS = 60_000;
/** The tick after an ADD's change held off too: what shapes each pod here is its ADD's change. */
const NO_TICK_AFTER_CHANGE: TickAfterChange = { quietMs: TICK_MS, maxMs: TICK_MS };

describeKernel('cni plugin chained with bridge + host-local, shaped by serve', [], () => {
  const bed = cniTestbed();
  const { rig } = bed;

  const classOf = (address: string): Promise<number | undefined> => classOnBridge(bed.kernel, CNI_HOST_NETNS, CNI_BRIDGE, address);
  const addressOf = (result: Record<string, unknown>): string => ((result['ips'] as { address: string }[])[0]!.address).split('/')[0]!;
  const records = (): string[] => {
    try {
      return readdirSync(join(rig.stateDir, CNI_NETWORK)).filter((f) => f.endsWith('.json')).sort();
    } catch {
      return [];
    }
  };

  it('ADD → shaped within a tick; CHECK; one more pod shaped when its ADD returns; DEL twice → gone; GC', async () => {
    const daemon = (bed.daemon = await rig.serve(bed.applier, TICK_MS, NO_TICK_AFTER_CHANGE));
    const web: PodSpec = { name: 'web', bandwidth: { ingressRate: 20_000_000, egressRate: 10_000_000 }, annotations: { 'sluice.dev/download-guarantee': '5mbit', 'sluice.dev/upload-priority': '1' } };
    await rig.createPod('web');
    const result = await rig.add(web);
    // The chain's result reaches the runtime unchanged: the bridge plugin's interfaces and address.
    expect((result['interfaces'] as { name: string }[]).map((i) => i.name)).toContain(CNI_BRIDGE);
    const address = addressOf(result);
    await until(`${address} shaped`, async () => (await classOf(address)) !== undefined);
    // Its classes carry the pod's bandwidth: the runtime's ceiling, the annotation's guarantee.
    const classes = await sh('tc', ['-n', CNI_HOST_NETNS, 'class', 'show', 'dev', CNI_BRIDGE]);
    expect(classes).toMatch(/rate 5Mbit ceil 20Mbit/);

    expect((await rig.check(web)).code).toBe(0);
    // Shaping removed behind the daemon's back (its next tick is a minute away): CHECK fails.
    await sh('tc', ['-n', CNI_HOST_NETNS, 'qdisc', 'del', 'dev', CNI_BRIDGE, 'root']);
    const failed = await rig.check(web);
    expect(failed.code).not.toBe(0);
    expect(failed.json).toMatchObject({ code: 100 });
    expect(String(failed.json!['msg'])).toContain(`no download class for ${address} on ${CNI_BRIDGE}`);
    await daemon.runTick();
    expect((await rig.check(web)).code).toBe(0);

    // One more pod: shaped when its ADD returns. serve applies the pod's objects (the
    // change since its last apply, without observing) before it answers; the tick follows.
    const changes: ChangeOutcome[] = [];
    const applyChange = bed.applier.applyChange.bind(bed.applier);
    bed.applier.applyChange = async (policy, extra, lap) => {
      const outcome = await applyChange(policy, extra, lap);
      changes.push(outcome);
      return outcome;
    };
    const webClass = await classOf(address);
    const ownedKeys = async (): Promise<string[]> => stateLists(await bed.kernel.observe({ netns: [CNI_HOST_NETNS], withStats: false, external: [{ netns: CNI_HOST_NETNS, dev: CNI_BRIDGE }] })).flatMap((l) => l.map(objectKey));
    const before = await ownedKeys();
    const quick: PodSpec = { name: 'quick', annotations: { 'sluice.dev/download-guarantee': '3mbit' } };
    await rig.createPod('quick');
    const quickAddress = addressOf(await rig.add(quick));
    expect(await classOf(quickAddress)).toBeDefined();
    expect(changes).toHaveLength(1);
    const change = changes[0]!;
    if (change.kind !== 'applied') throw new Error(`the change was not applied before the answer: ${change.reason}`);
    expect(change.report.failed).toBeUndefined();
    // Both directions' classes and filters were the change's own creates (not the tick's).
    const created = change.report.applied.filter((op) => op.op === 'create').map((op) => op.object.type);
    expect(created.filter((t) => t === 'class').length).toBeGreaterThanOrEqual(2);
    expect(created.filter((t) => t === 'filter').length).toBeGreaterThanOrEqual(2);
    expect(change.report.applied.every((op) => op.op !== 'delete')).toBe(true);
    expect((await rig.check(quick)).code).toBe(0);
    // Nothing else disturbed: web keeps its class, every object there before is still there.
    expect(await classOf(address)).toBe(webClass);
    const after = new Set(await ownedKeys());
    expect(before.filter((k) => !after.has(k))).toEqual([]);
    expect((await rig.check(web)).code).toBe(0);

    // Back to back: each ADD's change builds on the one before it, with no full apply
    // (a tick) in between, so each pod's classes and filters both ways exist when its
    // ADD returns, and no earlier pod's class moves.
    let applies = 0;
    const apply = bed.applier.apply.bind(bed.applier);
    bed.applier.apply = (...args) => {
      applies++;
      return apply(...args);
    };
    const classesBefore = [await classOf(address), await classOf(quickAddress)];
    const burst: PodSpec[] = [{ name: 'next1', annotations: { 'sluice.dev/download-guarantee': '2mbit' } }, { name: 'next2', annotations: { 'sluice.dev/download-guarantee': '1mbit' } }];
    const burstAddresses: string[] = [];
    for (const pod of burst) {
      await rig.createPod(pod.name);
      burstAddresses.push(addressOf(await rig.add(pod)));
      expect((await rig.check(pod)).code).toBe(0);
      const latest = changes[changes.length - 1]!;
      if (latest.kind !== 'applied') throw new Error(`${pod.name}'s change was not applied before the answer: ${latest.reason}`);
      expect(latest.report.failed).toBeUndefined();
    }
    expect(changes).toHaveLength(1 + burst.length);
    expect(applies).toBe(0);
    expect([await classOf(address), await classOf(quickAddress)]).toEqual(classesBefore);
    for (const pod of burst) expect((await rig.del(pod)).map((o) => o.code)).toEqual([0, 0]);
    await until('the burst unshaped', async () => (await Promise.all(burstAddresses.map(classOf))).every((c) => c === undefined));

    // DEL, twice: each plugin succeeds both times; the pod is unshaped and its record gone.
    for (let i = 0; i < 2; i++) expect((await rig.del(web)).map((o) => o.code)).toEqual([0, 0]);
    expect((await rig.del(quick)).map((o) => o.code)).toEqual([0, 0]);
    await until(`${address} unshaped`, async () => (await classOf(address)) === undefined && (await classOf(quickAddress)) === undefined);
    expect(records()).toEqual([]);

    // GC: two pods recorded, the runtime knows only one; the other's record and classes go.
    const [a, b] = [{ name: 'gca' }, { name: 'gcb' }];
    for (const p of [a, b]) await rig.createPod(p.name);
    const addressA = addressOf(await rig.add(a));
    const addressB = addressOf(await rig.add(b));
    await until('both shaped', async () => (await classOf(addressA)) !== undefined && (await classOf(addressB)) !== undefined);
    expect((await rig.gc(['gca'])).code).toBe(0);
    expect(records()).toEqual([`${rig.containerId('gca')}-eth0.json`]);
    await until(`${addressB} unshaped after GC`, async () => (await classOf(addressB)) === undefined);
    expect(await classOf(addressA)).toBeDefined();
    for (const p of [a, b]) await rig.del(p);
  }, 120_000);
});
