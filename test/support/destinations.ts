// The destinations kernel tests' harness: a policy with two peer sets applied to a
// fresh sandbox, two peers routed through the host (the demo's peer, in the default set
// "internet", and a second one, in the set "cluster"), every busy container sending to
// (or receiving from) each peer it is busy with at once. Each (container, set) flow is
// judged by the hierarchical oracle fed from what the case wrote (sets as groups of
// their flows: a set guarantees its flows' guarantees and takes at most its capacity),
// never from compiled classes.
import { buildSandbox, sandboxSite, type DemoDeps } from '../../src/demo/run';
import { peerState, PEER_LINK, PEER_LINK6, type PeerSite } from '../../src/demo/peer';
import { TrafficRig, type TrafficEndpoint } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import { describeObject } from '../../src/tc/describe';
import { ETHERNET_IPV6_TCP_TIMESTAMPS } from '../../src/measure';
import type { Judge } from '../../src/measure/judge';
import { writtenTreeJudge, type WrittenTree } from '../../src/measure/treeJudge';
import { allocateTree } from '../../src/allocate/hierarchy';
import { judgeAllocation, type Tolerance, type Verdict } from '../../src/measure/verdict';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import type { Direction } from '../../src/tc/model';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../../src/traffic/snapshot';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';

export type SetName = 'cluster' | 'internet';
export const SETS: readonly SetName[] = ['cluster', 'internet'];

/** A container's rates with one set as written (Mbit/s); absent: no guarantee, the set's capacity, priority 4. */
export interface FlowRates {
  readonly g?: number;
  readonly c?: number;
  readonly p?: number;
}

export interface SetCase {
  readonly name: string;
  readonly linkMbit: number;
  /** Each set's capacity (Mbit/s, both directions); absent: the link. */
  readonly capacityMbit: Partial<Record<SetName, number>>;
  readonly pods: readonly { readonly name: string; readonly rates: Partial<Record<SetName, FlowRates>> }[];
}

/** The second peer: its own namespace and /30 (and /64), all in the cluster set. */
export const clusterPeer = (prefix: string): PeerSite => ({
  netns: `sl-${prefix}cpeer`,
  hostDev: `sl-${prefix}cpeer`,
  link: { host: '198.18.254.1', peer: '198.18.254.2', prefix: 30 },
  link6: { host: '2001:2:0:fe::1', peer: '2001:2:0:fe::2', prefix: 64 },
});
export const CLUSTER_CIDRS = ['198.18.254.0/24', '2001:2:0:fe::/64'];

export const flowKey = (pod: string, set: SetName): string => `${pod}@${set}`;

/** The policy text of a case; `withSets: false` is the negative control's (no peer sets: each pod's guarantees summed over all peers). */
export function setPolicyText(c: SetCase, prefix: string, withSets = true, dualStack = false): string {
  const cap = (s: SetName) => (c.capacityMbit[s] === undefined ? '' : ` capacity: { download: ${c.capacityMbit[s]}mbit, upload: ${c.capacityMbit[s]}mbit }`);
  const host = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: ${prefix}host }
spec:
  netns: sl-${prefix}host
  bridge: sl-${prefix}br0
  ifb: sl-${prefix}ifb0
  subnet: 198.18.0.0/24
${dualStack ? '  subnet6: 2001:2::/64\n' : ''}  capacity: { download: ${c.linkMbit}mbit, upload: ${c.linkMbit}mbit }
${withSets ? `  peers:\n    cluster: { cidrs: [${CLUSTER_CIDRS.join(', ')}]${cap('cluster') ? `,${cap('cluster')}` : ''} }\n    internet: {${cap('internet')} }\n` : ''}`;
  const pods = c.pods.map((pod) => {
    const rates = (r: FlowRates | undefined) => [r?.g !== undefined ? `guarantee: ${r.g}mbit` : '', r?.c !== undefined ? `ceiling: ${r.c}mbit` : '', r?.p !== undefined ? `priority: ${r.p}` : ''].filter((x) => x).join(', ');
    const direction = withSets
      ? `{ peers: { ${SETS.map((s) => `${s}: { ${rates(pod.rates[s])} }`).join(', ')} } }`
      : `{ guarantee: ${SETS.reduce((sum, s) => sum + (pod.rates[s]?.g ?? 0), 0)}mbit }`;
    return `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${pod.name} }
spec:
  match: { managed: sl-${prefix}${pod.name} }
  download: ${direction}
  upload: ${direction}
`;
  });
  return [host, ...pods].join('');
}

export function parseSetCase(c: SetCase, prefix: string, withSets = true, dualStack = false): Policy {
  const r = parsePolicyTexts([{ path: `${c.name}.yaml`, text: setPolicyText(c, prefix, withSets, dualStack) }]);
  if (!r.ok) throw new Error(`${c.name}: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return r.policy;
}

/**
 * The case as written, as a tree for the hierarchical oracle: each set a group (its
 * guarantee left out: its flows' sum; its ceiling its capacity; priority 4), each
 * (pod, set) a container of it with the rates written for that set.
 */
export function writtenFromSetCase(c: SetCase): WrittenTree {
  const link = bitsPerSec(c.linkMbit * 1e6);
  const mbit = (n: number | undefined) => (n === undefined ? undefined : bitsPerSec(n * 1e6));
  const groupDirection = (s: SetName) => ({ ...(c.capacityMbit[s] !== undefined ? { ceiling: mbit(c.capacityMbit[s])! } : {}) });
  return {
    capacity: { download: link, upload: link },
    groups: SETS.map((s) => ({ name: s, download: groupDirection(s), upload: groupDirection(s) })),
    containers: c.pods.flatMap((pod) =>
      SETS.map((s) => {
        const r = pod.rates[s];
        const d = { guarantee: mbit(r?.g) ?? bitsPerSec(0), ...(r?.c !== undefined ? { ceiling: mbit(r.c)! } : {}), ...(r?.p !== undefined ? { priority: r.p } : {}) };
        return { name: flowKey(pod.name, s), group: s, download: d, upload: d };
      }),
    ),
  };
}

export const setJudgeOf = (c: SetCase): Judge => writtenTreeJudge(writtenFromSetCase(c), allocateTree);

export interface SetPhase {
  readonly direction: Direction;
  /** Flow keys (pod@set) that send. */
  readonly busy: readonly string[];
}

export interface SetHarness {
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  readonly tolerance: Tolerance;
  /** Flows over IPv6 (the containers' and the peers' IPv6 addresses). */
  readonly ipv6?: boolean;
  /**
   * Read the kernel's counters as the daemon does, as each phase starts (in its warmup)
   * and once it has been measured, for a snapshot whose rates cover the phase.
   */
  readonly snapshots?: boolean;
}

/** What `status` and the metrics would have shown at the end of a phase, and what the receivers measured in it (by flow key). */
export interface PhaseSeen {
  readonly snap: TrafficSnapshot;
  readonly measured: ReadonlyMap<string, BitsPerSec>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FLOWS = 2;
const CLUSTER_BASE_PORT = 5501;

/** Builds the sandbox and the cluster peer for `policy`, runs the phases, and returns a verdict per phase. */
export async function runSetPhases(deps: DemoDeps, policy: Policy, prefix: string, judge: Judge, phases: readonly SetPhase[], options: SetHarness): Promise<{ verdicts: Verdict[]; replanned: string[]; seen: PhaseSeen[] }> {
  const compiled = await buildSandbox(deps, policy, () => undefined);
  const site = clusterPeer(prefix);
  const peer = await deps.applier.ensure(peerState(policy.host, 'capped', site), [policy.host.netns, site.netns], policy);
  if (peer.report.failed) throw new Error(`creating the cluster peer failed: ${JSON.stringify(peer.report.failed)}`);
  // The trees read back are what was compiled: a second apply changes no tc object.
  const replanned = (await deps.applier.plan(policy, false, peerState(policy.host))).plan.filter((op) => op.object.type === 'qdisc' || op.object.type === 'class' || op.object.type === 'filter').map((op) => `${op.op} ${describeObject(op.object)}`);
  const base = sandboxSite(compiled);
  const v6 = options.ipv6 === true;
  const containers: TrafficEndpoint[] = compiled.containers.filter((c) => c.netns && c.address).map((c) => ({ name: c.name, netns: c.netns!, address: v6 ? c.address6! : c.address!, flows: FLOWS }));
  const directions = [...new Set(phases.map((p) => p.direction))];
  const rigs: Record<SetName, TrafficRig | undefined> = { cluster: undefined, internet: undefined };
  const verdicts: Verdict[] = [];
  const seen: PhaseSeen[] = [];
  const look = async (rates: RateEstimator): Promise<TrafficSnapshot> => {
    const planned = await deps.applier.plan(policy, true, peerState(policy.host));
    return snapshot(planned.compiled, planned.observed, policy.host, rates, monotonicMs());
  };
  try {
    rigs.internet = await TrafficRig.start({ peerNetns: base.peerNetns, peerAddress: v6 ? PEER_LINK6.peer : PEER_LINK.peer, containers, directions });
    rigs.cluster = await TrafficRig.start({ peerNetns: site.netns, peerAddress: v6 ? site.link6.peer : site.link.peer, containers, directions, basePort: CLUSTER_BASE_PORT });
    for (const phase of phases) {
      const from = Math.max(...SETS.map((s) => rigs[s]!.setActive(phase.direction, phase.busy.filter((k) => k.endsWith(`@${s}`)).map((k) => k.slice(0, -s.length - 1)))));
      // A 1 ms half-life: the second snapshot's rates are the averages since the first.
      const rates = new RateEstimator(1);
      if (options.snapshots) await look(rates);
      await sleep(options.phaseSeconds * 1000);
      const to = monotonicMs();
      const measured = new Map<string, BitsPerSec>();
      for (const s of SETS) for (const [pod, rate] of rigs[s]!.goodput(phase.direction, from, to, options.warmupSeconds * 1000)) if (rate > 0 || phase.busy.includes(flowKey(pod, s))) measured.set(flowKey(pod, s), rate);
      if (options.snapshots) seen.push({ snap: await look(rates), measured });
      for (const s of SETS) rigs[s]!.setActive(phase.direction, []);
      const { capacity, containers: judged, ideal } = judge.expect(phase.direction, phase.busy);
      verdicts.push(judgeAllocation({ capacity, containers: judged, measuredGoodput: measured, tolerance: options.tolerance, ...(v6 ? { geometry: ETHERNET_IPV6_TCP_TIMESTAMPS } : {}) }, () => ideal));
      await sleep(1500);
    }
  } finally {
    await Promise.all(SETS.map((s) => rigs[s]?.stop()));
  }
  return { verdicts, replanned, seen };
}
