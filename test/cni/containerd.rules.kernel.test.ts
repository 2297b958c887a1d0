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
import type { Judge } from '../../src/measure/judge';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec } from '../../src/units/units';
import { criTestbed } from '../support/criTestbed';
import { describeKernel } from '../support/kernel';
import { writtenRate } from '../support/written';

const NODE = { netns: 'sl-crirules', bridge: 'sl-crir0', ifb: 'sl-cririfb0', subnet: '198.18.50.0/24', gateway: '198.18.50.1', network: 'sl-pods', capacity: '200mbit', chained: 'sluice', cgroupParent: '/sl-cri-rules' } as const;
const LINK = writtenRate(NODE.capacity);

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
  const ceiling = a[`sluice.dev/${dir}-ceiling`] ? writtenRate(a[`sluice.dev/${dir}-ceiling`]!) : k8s ? Math.min(quantity(k8s), LINK) : LINK;
  return {
    id: pod,
    guarantee: bitsPerSec(a[`sluice.dev/${dir}-guarantee`] ? writtenRate(a[`sluice.dev/${dir}-guarantee`]!) : 1e6),
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
    const { compiled } = served.reconciler.current;
    const pods = compiled!.containers.map((c) => ({ pod: c.workload!.name.split('/')[1]!, container: c }));
    expect(pods.map((p) => p.container.workload!.name).sort()).toEqual(Object.keys(PODS).map((p) => `shop/${p}`).sort());
    const nameOf = new Map(pods.map((p) => [p.pod, p.container.name]));
    const phases = DEMO_PHASES.map((p) => ({ ...p, active: p.active.map((n) => nameOf.get(n)!) }));
    const site = { peerNetns: NODE.netns, peerAddress: NODE.gateway, containers: pods.map((p) => ({ name: p.container.name, netns: p.container.workload!.netns!, address: p.container.address! })) };
    // Every input from the annotations as written (floors too), under the names the traffic site knows the pods by.
    const judge: Judge = {
      expect(dir, active) {
        const containers = Object.keys(PODS).map((pod) => ({ ...asked(pod, dir, active.includes(nameOf.get(pod)!)), id: nameOf.get(pod)! }));
        return { capacity: bitsPerSec(LINK), containers, ideal: allocate(bitsPerSec(LINK), containers) };
      },
    };
    const results = await runPhases({ kernel: served.kernel, applier: served.applier }, compiled!, site, { judge, phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false });
    for (const r of results) console.log(`${r.verdict.pass ? 'PASS' : 'FAIL'} containerd ${r.direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
    expect(results.map((r) => `${r.direction}:${r.phase.name}:${r.verdict.pass}`)).toEqual(['download', 'upload'].flatMap((d) => DEMO_PHASES.map((p) => `${d}:${p.name}:true`)));
    // The lone pod is held at the kubelet's ceilings, not the link.
    const lend = (dir: Direction): number => results.find((r) => r.direction === dir && r.phase.name === 'lend')!.verdict.containers.find((c) => c.id === nameOf.get('web'))!.ideal;
    expect([lend('download'), lend('upload')]).toEqual([150e6, 100e6]);
  }, 300_000);
});
