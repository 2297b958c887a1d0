// The destinations kernel tests' case data: a case (link, set capacities, each pod's
// rates per set) as the policy text it writes and as the tree the hierarchical oracle
// judges it by (sets as groups of their flows: a set guarantees its flows' guarantees and
// takes at most its capacity), never from compiled classes. The sandbox, both peers and
// the traffic are src/demo/destinations.ts's SetSandbox, which `sluice demo` uses too.
import type { DemoDeps } from '../../src/demo/run';
import { CLUSTER_CIDRS, clusterPeer, flowKey, SETS, SetSandbox, type PhaseSeen, type SetName, type SetPhase } from '../../src/demo/destinations';
import type { Judge } from '../../src/measure/judge';
import { writtenTreeJudge, type WrittenTree } from '../../src/measure/treeJudge';
import { allocateTree } from '../../src/allocate/hierarchy';
import type { Tolerance, Verdict } from '../../src/measure/verdict';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { bitsPerSec } from '../../src/units/units';

export { CLUSTER_CIDRS, clusterPeer, flowKey, SETS, type PhaseSeen, type SetName, type SetPhase };

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

export interface SetHarness {
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  readonly tolerance: Tolerance;
  /** Flows over IPv6 (the containers' and the peers' IPv6 addresses). */
  readonly ipv6?: boolean;
  /** A snapshot per phase of what status and the metrics show (SetPhaseOptions.snapshots). */
  readonly snapshots?: boolean;
}

/** Builds the sandbox and the cluster peer for `policy`, runs the phases, and returns a verdict per phase (the caller tears down). */
export async function runSetPhases(deps: DemoDeps, policy: Policy, prefix: string, judge: Judge, phases: readonly SetPhase[], options: SetHarness): Promise<{ verdicts: Verdict[]; replanned: string[]; seen: PhaseSeen[] }> {
  const sandbox = await SetSandbox.open(deps, policy, clusterPeer(prefix), { directions: [...new Set(phases.map((p) => p.direction))], ...(options.ipv6 ? { ipv6: true } : {}) });
  const verdicts: Verdict[] = [];
  const seen: PhaseSeen[] = [];
  try {
    const replanned = await sandbox.replanned();
    for (const phase of phases) {
      const r = await sandbox.run(phase, judge, options);
      verdicts.push(r.verdict);
      if (r.seen) seen.push(r.seen);
    }
    return { verdicts, replanned, seen };
  } finally {
    await sandbox.stop();
  }
}

/** A case and the flows that send in its phases. */
export interface Case {
  readonly set: SetCase;
  /** The busy flows of the one phase run per direction. */
  readonly busy: readonly string[];
}

/** Every (pod, set) of a draw is guaranteed at least this much (see destinations.kernel.test.ts's header); three pods' fit the smallest internet capacity (25). */
export const MIN_GUARANTEE_MBIT = 8;

/** A random two-set policy: 2–3 pods, a link of 100–200, an internet capacity below it, every pod guaranteed ≥ MIN_GUARANTEE_MBIT in each set, the guarantees fitting each set. */
export function drawCase(r: () => number, seed: number): Case {
  const linkMbit = 100 + Math.floor(r() * 3) * 50;
  const internet = Math.round(linkMbit * (0.25 + r() * 0.35));
  const count = 2 + Math.floor(r() * 2);
  const capacity = { cluster: linkMbit - internet, internet };
  const pods = Array.from({ length: count }, (_, i) => {
    const rates: Partial<Record<'cluster' | 'internet', { g?: number; c?: number; p?: number }>> = {};
    for (const s of SETS) {
      // The floors first; 60% of the pods get a part of what they leave on top.
      const spare = capacity[s] - MIN_GUARANTEE_MBIT * count;
      const g = MIN_GUARANTEE_MBIT + (r() < 0.6 ? Math.floor((spare / count) * (0.3 + r() * 0.5)) : 0);
      const c = r() < 0.3 ? Math.max(g + 5, Math.round((s === 'internet' ? internet : linkMbit) * (0.3 + r() * 0.5))) : undefined;
      rates[s] = { g, ...(c !== undefined ? { c } : {}), p: r() < 0.5 ? 4 : Math.floor(r() * 8) };
    }
    return { name: `r${i}`, rates };
  });
  const busy = pods.flatMap((p) => SETS.filter(() => r() < 0.7).map((s) => flowKey(p.name, s)));
  return { set: { name: `seed-${seed}`, linkMbit, capacityMbit: { internet }, pods }, busy: busy.length > 0 ? busy : [flowKey(pods[0]!.name, 'internet'), flowKey(pods[1]!.name, 'cluster')] };
}

export const describeCase = (c: Case): string =>
  `${c.set.linkMbit} mbit/s, internet ${c.set.capacityMbit.internet ?? c.set.linkMbit}: ${c.set.pods.map((p) => `${p.name} ${SETS.map((s) => `${s}(${[p.rates[s]?.g !== undefined ? `g${p.rates[s]!.g}` : '', p.rates[s]?.c !== undefined ? `c${p.rates[s]!.c}` : '', `p${p.rates[s]?.p ?? 4}`].filter((x) => x).join(' ')})`).join(' ')}`).join('; ')}; busy ${c.busy.join(', ')}`;

/**
 * The draw as a shared sandbox writes it: its pods, then up to `pods` idle ones. Written
 * with no rates (`floorMbit` 0) such a pod's classes run at HTB's 8 kbit/s minimum, and
 * what they still carry from an earlier draw leaves them up to a minute in token debt,
 * so a later draw's guarantee for them is not kept (docs/decisions.md, "The zero's
 * cause"); `floorMbit` guarantees them that much in each set instead.
 */
export const padded = (c: SetCase, pods: number, floorMbit = 0): SetCase => ({
  ...c,
  pods: [
    ...c.pods,
    ...Array.from({ length: pods - c.pods.length }, (_, i) => ({
      name: `r${c.pods.length + i}`,
      rates: floorMbit > 0 ? Object.fromEntries(SETS.map((s) => [s, { g: floorMbit }])) : {},
    })),
  ],
});
