// Real TCP through pods attached by bridge + host-local + sluice, as a runtime does, and
// shaped by `serve` from their annotations: the demo's four containers and phases, both
// directions, judged against the oracle as the demo does. The peer is the CNI host
// namespace itself (the node), on the bridge's gateway address.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/wiring/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import type { Daemon } from '../../src/daemon/serve';
import { runPhases } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import { CNI_GATEWAY, CNI_HOST_NETNS, CniRig, type PodSpec } from '../support/cni';
import { describeKernel } from '../support/kernel';

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
  const rig = new CniRig();
  let kernel: RtnlKernel;
  let applier: Applier;
  let daemon: Daemon | undefined;

  beforeAll(async () => {
    await rig.tearDown().catch(() => undefined);
    await rig.setUp();
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    for (const p of PODS) await rig.del(p).catch(() => undefined);
    await applier?.destroy('cni-test').catch(() => undefined);
    await kernel?.close();
    await rig.tearDown();
  }, 60_000);

  it('guarantee, lending, fair sharing by priority and guarantee, no drops: both directions', async () => {
    const served = await rig.serveWith(applier, 1000);
    daemon = served.daemon;
    for (const p of PODS) {
      await rig.createPod(p.name);
      await rig.add(p);
    }
    // Queued after the reloads the plugin's pokes asked for: it sees every pod.
    expect(await daemon.reload('test')).toBe(true);
    const state = served.reconciler.current;
    const policy = state.policy!;
    const compiled = state.compiled!;
    expect(compiled.containers.map((c) => c.workload?.name).sort()).toEqual(PODS.map((p) => `shop/${p.name}`).sort());
    // The demo's phases name containers web, api…; the pods' policy entries are named per pod.
    const nameOf = new Map(compiled.containers.map((c) => [c.workload!.name.split('/')[1]!, c.name]));
    const phases = DEMO_PHASES.map((p) => ({ ...p, active: p.active.map((n) => nameOf.get(n)!) }));
    const site = { peerNetns: CNI_HOST_NETNS, peerAddress: CNI_GATEWAY, containers: compiled.containers.map((c) => ({ name: c.name, netns: c.workload!.netns!, address: c.address! })) };
    const results = await runPhases({ kernel, applier }, policy, compiled, site, { phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false });
    for (const r of results) console.log(`${r.verdict.pass ? 'PASS' : 'FAIL'} cni ${r.direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
    expect(results.map((r) => `${r.direction}:${r.phase.name}:${r.verdict.pass}`)).toEqual(['download', 'upload'].flatMap((d) => DEMO_PHASES.map((p) => `${d}:${p.name}:true`)));
  }, 300_000);
});
