// The four rules through pods that Debian's containerd started (RunPodSandbox, as the
// kubelet sends it), with the kubelet's own kubernetes.io/ingress-bandwidth and
// egress-bandwidth annotations as ceilings and Sluice's sluice.dev/ ones for guarantees
// and priorities: the demo's phases in both directions over a 200 mbit/s link, real TCP
// between each pod and the node, every phase judged against the oracle computed from
// the annotations as written (never from the classes Sluice compiled). The lone-pod
// phase shows the kubelet's ceilings holding (150 of 200 down, 100 up). Budget: ~60 s.
import { expect, it } from 'vitest';
import { allocate, type AllocationInput } from '../../src/allocate/oracle';
import { runPhases } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { formatVerdict, judgeAllocation } from '../../src/measure/verdict';
import { parseRate } from '../../src/policy/rates';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { criTestbed } from '../support/criTestbed';
import { describeKernel } from '../support/kernel';

const NODE = { netns: 'sl-crirules', bridge: 'sl-crir0', ifb: 'sl-cririfb0', subnet: '198.18.50.0/24', gateway: '198.18.50.1', network: 'sl-pods', capacity: '200mbit', chained: 'sluice', cgroupParent: '/sl-cri-rules' } as const;
const LINK = parseRate(NODE.capacity);

const both = (field: string, value: string): Record<string, string> => ({ [`sluice.dev/download-${field}`]: value, [`sluice.dev/upload-${field}`]: value });
/** The demo's four containers as pods: web's ceilings are the kubelet's own annotations. */
const PODS: Readonly<Record<string, Record<string, string>>> = {
  web: { ...both('guarantee', '60mbit'), ...both('priority', '0'), 'kubernetes.io/ingress-bandwidth': '150M', 'kubernetes.io/egress-bandwidth': '100M' },
  api: { ...both('guarantee', '40mbit'), ...both('priority', '1') },
  batch: { ...both('guarantee', '40mbit'), ...both('priority', '2'), ...both('ceiling', '180mbit') },
  backup: { ...both('guarantee', '20mbit'), ...both('priority', '2') },
};

/** A Kubernetes quantity as the bandwidth annotations use it: "150M" = 150·10^6 bit/s. */
function quantity(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGT]?)$/.exec(text);
  if (!m) throw new Error(`not a quantity: ${text}`);
  return Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 } as Record<string, number>)[m[2]!]!;
}

/** What each pod asks for in `dir`, read from its annotations alone (defaults: the Host's 1mbit, priority 4; ceiling: the link). */
function asked(pod: string, dir: Direction, busy: boolean): AllocationInput {
  const a = PODS[pod]!;
  const k8s = a[`kubernetes.io/${dir === 'download' ? 'ingress' : 'egress'}-bandwidth`];
  const ceiling = a[`sluice.dev/${dir}-ceiling`] ? parseRate(a[`sluice.dev/${dir}-ceiling`]!) : k8s ? Math.min(quantity(k8s), LINK) : LINK;
  return {
    id: pod,
    guarantee: bitsPerSec(a[`sluice.dev/${dir}-guarantee`] ? parseRate(a[`sluice.dev/${dir}-guarantee`]!) : 1e6),
    ceiling: bitsPerSec(ceiling),
    priority: Number(a[`sluice.dev/${dir}-priority`] ?? 4),
    demand: bitsPerSec(busy ? LINK * 2 : 0),
  };
}

describeKernel('containerd pods follow the four rules, judged from their annotations', ['nsenter', 'iperf3', 'containerd', 'runc', 'ctr', 'gcc'], () => {
  const bed = criTestbed(NODE);
  const { node } = bed;

  it('guarantee, lending, sharing by priority then guarantee, the kubelet ceilings: both directions', async () => {
    const served = await node.startServe(1000);
    for (const [name, annotations] of Object.entries(PODS)) await node.bed.runPod({ name, namespace: 'shop', annotations });
    // Queued after the reloads the pods' ADDs asked for: it sees every pod.
    expect(await served.daemon.reload('test')).toBe(true);
    const { policy, compiled } = served.reconciler.current;
    const pods = compiled!.containers.map((c) => ({ pod: c.workload!.name.split('/')[1]!, container: c }));
    expect(pods.map((p) => p.container.workload!.name).sort()).toEqual(Object.keys(PODS).map((p) => `shop/${p}`).sort());
    const nameOf = new Map(pods.map((p) => [p.pod, p.container.name]));
    const podOf = new Map(pods.map((p) => [p.container.name, p.pod]));
    const phases = DEMO_PHASES.map((p) => ({ ...p, active: p.active.map((n) => nameOf.get(n)!) }));
    const site = { peerNetns: NODE.netns, peerAddress: NODE.gateway, containers: pods.map((p) => ({ name: p.container.name, netns: p.container.workload!.netns!, address: p.container.address! })) };
    const expected = (dir: Direction, active: readonly string[]): ReadonlyMap<string, BitsPerSec> => {
      const ideal = allocate(bitsPerSec(LINK), Object.keys(PODS).map((pod) => asked(pod, dir, active.includes(nameOf.get(pod)!))));
      return new Map([...ideal].map(([pod, rate]) => [nameOf.get(pod)!, rate]));
    };
    const results = await runPhases({ kernel: served.kernel, applier: served.applier }, policy!, compiled!, site, { phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false, expected: (dir, phase) => expected(dir, phase.active) });
    // Judged again with every input from the annotations (the floors too), by pod name.
    const verdicts = results.map((r) => {
      const measured = new Map(r.verdict.containers.map((c) => [podOf.get(c.id)!, c.measuredGoodput]));
      const verdict = judgeAllocation({ capacity: bitsPerSec(LINK), containers: Object.keys(PODS).map((pod) => asked(pod, r.direction, r.phase.active.includes(nameOf.get(pod)!))), measuredGoodput: measured }, allocate);
      console.log(`${verdict.pass ? 'PASS' : 'FAIL'} containerd ${r.direction} ${r.phase.name}\n${formatVerdict(verdict)}`);
      return { r, verdict };
    });
    expect(verdicts.map(({ r, verdict }) => `${r.direction}:${r.phase.name}:${verdict.pass}`)).toEqual(['download', 'upload'].flatMap((d) => DEMO_PHASES.map((p) => `${d}:${p.name}:true`)));
    // The lone pod is held at the kubelet's ceilings, not the link.
    const lend = (dir: Direction): number => verdicts.find((v) => v.r.direction === dir && v.r.phase.name === 'lend')!.verdict.containers.find((c) => c.id === 'web')!.ideal;
    expect([lend('download'), lend('upload')]).toEqual([150e6, 100e6]);
  }, 300_000);
});
