// Two pods on the CNI bridge (a runtime's, which Sluice never changes): traffic between them
// is switched port to port, past the bridge device's trees. serve puts a hook on each pod's
// host-side veth (the one the bridge plugin reports), so the sender's upload class shapes
// it (issue #23). The ceilings are the annotations as this test writes them: a → b is held
// by a's upload ceiling (25), b → a by b's (40), one flow at a time, goodput at most the
// ceiling and at least 90% of it. Negative control: serve stopped and a's hook deleted, a → b
// runs far above its ceiling. Runtime budget: ≤ 20 s (two pods, three 3 s flows).
import { expect, it } from 'vitest';
import type { CompiledContainer } from '../../src/compile';
import { CNI_HOST_NETNS, cniTestbed, servePods, type PodSpec } from '../support/cni';
import { describeKernel, sh } from '../support/kernel';
import { flowBetween } from '../support/sameBridge';

const A_CEILING = 25;
const B_CEILING = 40;
const pod = (name: string, ceilingMbit: number): PodSpec => ({
  name,
  annotations: { 'sluice.dev/download-guarantee': '10mbit', 'sluice.dev/upload-guarantee': '10mbit', 'sluice.dev/upload-ceiling': `${ceilingMbit}mbit` },
});
const PODS = [pod('a', A_CEILING), pod('b', B_CEILING)];

const SHAPED_FLOOR = 0.9;
const FLOW_S = 3;

/** One flow between two pods, alone: goodput in Mbit/s. */
const flow = (from: CompiledContainer, to: CompiledContainer): Promise<number> => flowBetween({ netns: from.workload!.netns!, address: from.address! }, { netns: to.workload!.netns!, address: to.address! }, FLOW_S);

describeKernel("cni pods on the runtime's bridge: traffic between them shaped by the sender's upload class", [], () => {
  const bed = cniTestbed(async ({ rig }) => {
    for (const p of PODS) await rig.del(p).catch(() => undefined);
  });

  it("a → b is held by a's upload ceiling, b → a by b's; without a's hook (negative control) a → b is not", async () => {
    const { daemon, compiled } = await servePods(bed, PODS);
    const byPod = new Map(compiled.containers.map((c) => [c.workload!.name, c]));
    const [a, b] = [byPod.get('shop/a')!, byPod.get('shop/b')!];
    const hostVeth = a.workload!.hostDevice!;
    expect(await sh('tc', ['-n', CNI_HOST_NETNS, 'qdisc', 'show', 'dev', hostVeth, 'ingress'])).toContain('ingress');

    const aToB = await flow(a, b);
    const bToA = await flow(b, a);
    console.log(`cni same bridge: a → b ${aToB.toFixed(1)} Mbit/s (a's upload ceiling ${A_CEILING}), b → a ${bToA.toFixed(1)} (b's ${B_CEILING})`);
    expect(aToB).toBeLessThanOrEqual(A_CEILING);
    expect(aToB).toBeGreaterThanOrEqual(SHAPED_FLOOR * A_CEILING);
    expect(bToA).toBeLessThanOrEqual(B_CEILING);
    expect(bToA).toBeGreaterThanOrEqual(SHAPED_FLOOR * B_CEILING);

    // serve would repair the hook within a tick: stopped first.
    await daemon.stop();
    bed.daemon = undefined;
    await sh('tc', ['-n', CNI_HOST_NETNS, 'qdisc', 'del', 'dev', hostVeth, 'ingress']);
    const open = await flow(a, b);
    console.log(`cni same bridge, a's hook deleted (negative control): a → b ${open.toFixed(1)} Mbit/s`);
    expect(open).toBeGreaterThan(2 * A_CEILING);
  }, 120_000);
});
