// Real TCP through pods attached by bridge + host-local + sluice, as a runtime does, and
// shaped by `serve` from their annotations: the demo's four containers and phases, both
// directions, judged against the oracle fed with the annotations as this test writes
// them (not what serve compiled from them), and no drops in any phase. The peer is the
// CNI host namespace itself (the node), on the bridge's gateway address.
import { expect, it } from 'vitest';
import { runPhases } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { formatVerdict, ISSUE_TOLERANCE } from '../../src/measure/verdict';
import { CNI_CAPACITY, CNI_GATEWAY, CNI_HOST_NETNS, cniTestbed, servePods, type PodSpec } from '../support/cni';
import { describeKernel } from '../support/kernel';
import { judgeOf, writtenFromMaps, writtenRate } from '../support/written';

/** policies/demo.yaml's containers as pod annotations. */
const PODS: readonly PodSpec[] = [
  { name: 'web', annotations: annotations('30mbit', 0) },
  { name: 'api', annotations: annotations('20mbit', 1) },
  { name: 'batch', annotations: { ...annotations('20mbit', 2), 'sluice.dev/download-ceiling': '90mbit', 'sluice.dev/upload-ceiling': '90mbit' } },
  { name: 'backup', annotations: annotations('10mbit', 2) },
];

function annotations(guarantee: string, priority: number): Record<string, string> {
  return Object.fromEntries(['download', 'upload'].flatMap((d) => [[`sluice.dev/${d}-guarantee`, guarantee], [`sluice.dev/${d}-priority`, String(priority)]]));
}

describeKernel('cni pods follow the four rules', [], () => {
  // Pods still attached when a test fails are DELeted as a runtime would.
  const bed = cniTestbed(async ({ rig }) => {
    for (const p of PODS) await rig.del(p).catch(() => undefined);
  });

  // Download only: test/cni/containerd.rules runs the same phases both ways through the same plugin, driven by a
  // real containerd; this one keeps the plugin as a runtime without CRI calls it, and judges drops.
  it('guarantee, lending, fair sharing by priority and guarantee, no drops: download', async () => {
    const { compiled } = await servePods(bed, PODS);
    expect(compiled.containers.map((c) => c.workload?.name).sort()).toEqual(PODS.map((p) => `shop/${p.name}`).sort());
    // The demo's phases name containers web, api…; the pods' policy entries are named per pod.
    const nameOf = new Map(compiled.containers.map((c) => [c.workload!.name.split('/')[1]!, c.name]));
    const phases = DEMO_PHASES.map((p) => ({ ...p, active: p.active.map((n) => nameOf.get(n)!) }));
    const site = { peerNetns: CNI_HOST_NETNS, peerAddress: CNI_GATEWAY, containers: compiled.containers.map((c) => ({ name: c.name, netns: c.workload!.netns!, address: c.address! })) };
    // The annotations as written, under the names the traffic site knows the pods by.
    const written = writtenFromMaps(writtenRate(CNI_CAPACITY), PODS.map((p) => ({ name: nameOf.get(p.name)!, entries: p.annotations ?? {} })), (dir, field) => `sluice.dev/${dir}-${field}`);
    // "No drops" is judged, not only printed: each phase's class counters must not move.
    const tolerance = { ...ISSUE_TOLERANCE, maxDrops: 0 };
    const results = await runPhases({ kernel: bed.kernel, applier: bed.applier }, compiled, site, { judge: judgeOf(written), tolerance, phases, directions: ['download'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false });
    for (const r of results) console.log(`${r.verdict.pass ? 'PASS' : 'FAIL'} cni ${r.direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
    expect(results.map((r) => `${r.direction}:${r.phase.name}:${r.verdict.pass}`)).toEqual(['download'].flatMap((d) => DEMO_PHASES.map((p) => `${d}:${p.name}:true`)));
  }, 300_000);
});
