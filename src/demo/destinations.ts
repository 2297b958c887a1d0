// Destination classes in the sandbox, for `sluice demo`'s case (a) part and the
// destinations kernel tests: a policy with the peer sets "cluster" and "internet"
// applied to a sandbox, two peers routed through the host (the demo's peer, in the
// default set "internet", and a second one, in the set "cluster"), and every busy
// container sending to (or receiving from) each peer it is busy with at once. Each
// (container, set) flow is measured by its own receiver and judged by the oracle the
// caller feeds from what was written, never from the compiled classes.
import type { CompiledPolicy } from '../compile';
import { flowKey } from '../allocate/destinations';
import { ExecutionFailedError } from '../apply/errors';
import { monotonicMs } from '../loadgen/protocol';
import { ETHERNET_IPV6_TCP_TIMESTAMPS } from '../measure';
import type { Judge } from '../measure/judge';
import { judgeAllocation, type Tolerance, type Verdict } from '../measure/verdict';
import type { Policy } from '../policy/model';
import { describeObject } from '../tc/describe';
import type { Operation } from '../tc/operation';
import { mergeStates } from '../tc/identity';
import { type Direction, type KernelState } from '../tc/model';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../traffic/snapshot';
import type { BitsPerSec } from '../units/units';
import { PEER_LINK, PEER_LINK6, PEER_NETNS, peerState, type PeerSite } from './peer';
import { buildSandbox, sandboxSite, teardownDemo, type DemoDeps } from './run';
import { TrafficRig, type TrafficEndpoint } from './traffic';

export { flowKey };

/** The two peers' sets: "cluster" (its own CIDRs) and "internet" (the default set). */
export type SetName = 'cluster' | 'internet';
export const SETS: readonly SetName[] = ['cluster', 'internet'];

/** The second peer: its own namespace and /30 (and /64), all in the cluster set. */
export const clusterPeer = (prefix: string): PeerSite => ({
  netns: `sl-${prefix}cpeer`,
  hostDev: `sl-${prefix}cpeer`,
  link: { host: '198.18.254.1', peer: '198.18.254.2', prefix: 30 },
  link6: { host: '2001:2:0:fe::1', peer: '2001:2:0:fe::2', prefix: 64 },
});
/** The cluster set's CIDRs: the cluster peer's links, apart from the demo peer's 198.18.255.0/30. */
export const CLUSTER_CIDRS = ['198.18.254.0/24', '2001:2:0:fe::/64'];

export interface SetPhase {
  readonly direction: Direction;
  /** Flow keys (container@set) that send. */
  readonly busy: readonly string[];
}

export interface SetPhaseOptions {
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  /** Default: the (judgeAllocation's). */
  readonly tolerance?: Tolerance;
  /**
   * Read the kernel's counters as the daemon does, as the phase starts (in its warmup)
   * and once it has been measured, for a snapshot whose rates cover the phase.
   */
  readonly snapshots?: boolean;
  /** Called every second of the phase with the last second's rates (the demo's live table). */
  readonly live?: (snap: TrafficSnapshot, second: number) => void;
}

/** What `status` and the metrics would have shown at the end of a phase, and what the receivers measured in it (by flow key). */
export interface PhaseSeen {
  readonly snap: TrafficSnapshot;
  readonly measured: ReadonlyMap<string, BitsPerSec>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Parallel connections per (container, peer): two, so one connection's slow start does not decide a flow's rate. */
const FLOWS = 2;
const CLUSTER_BASE_PORT = 5501;

/** The peers' kernel objects beside the sandbox (an apply that leaves them out would remove them). */
const peersState = (policy: Policy, site: PeerSite): KernelState => mergeStates(peerState(policy.host), peerState(policy.host, 'capped', site));

/** A sandbox with peer sets and traffic rigs to both peers, for any number of phases: building it costs more than a phase. */
export class SetSandbox {
  private constructor(
    private readonly deps: DemoDeps,
    private policy: Policy,
    private current: CompiledPolicy,
    private readonly site: PeerSite,
    private readonly rigs: Readonly<Record<SetName, TrafficRig>>,
    private readonly v6: boolean,
  ) {}

  /**
   * Builds `policy`'s sandbox, the cluster peer at `site` and the rigs. On failure what
   * was built stays for the caller's teardownSets (which a caller runs in any case).
   */
  static async open(deps: DemoDeps, policy: Policy, site: PeerSite, options: { readonly directions: readonly Direction[]; readonly ipv6?: boolean; readonly out?: (t: string) => void }): Promise<SetSandbox> {
    const compiled = await buildSandbox(deps, policy, options.out ?? (() => undefined));
    const peer = await deps.applier.ensure(peerState(policy.host, 'capped', site), [policy.host.netns, site.netns], policy);
    if (peer.report.failed) throw new ExecutionFailedError('creating the cluster peer', peer.report);
    options.out?.(`created the cluster peer ${site.netns} (${site.link.peer}), routed through ${policy.host.netns}`);
    const v6 = options.ipv6 === true;
    const containers: TrafficEndpoint[] = compiled.containers.filter((c) => c.netns && c.address).map((c) => ({ name: c.name, netns: c.netns!, address: v6 ? c.address6! : c.address!, flows: FLOWS }));
    const base = sandboxSite(compiled);
    const internet = await TrafficRig.start({ peerNetns: base.peerNetns, peerAddress: v6 ? PEER_LINK6.peer : PEER_LINK.peer, containers, directions: options.directions });
    let cluster: TrafficRig;
    try {
      cluster = await TrafficRig.start({ peerNetns: site.netns, peerAddress: v6 ? site.link6.peer : site.link.peer, containers, directions: options.directions, basePort: CLUSTER_BASE_PORT });
    } catch (e) {
      await internet.stop();
      throw e;
    }
    return new SetSandbox(deps, policy, compiled, site, { cluster, internet }, v6);
  }

  get compiled(): CompiledPolicy {
    return this.current;
  }

  /**
   * Applies another policy with the same containers over the sandbox, the traffic rigs
   * and the peers staying (a live change, as an operator's apply); returns what was sent.
   */
  async reapply(policy: Policy): Promise<readonly Operation[]> {
    const applied = await this.deps.applier.apply(policy, false, undefined, peersState(policy, this.site));
    if (applied.report.failed) throw new ExecutionFailedError(`applying ${policy.host.name} over the sandbox`, applied.report);
    this.policy = policy;
    this.current = applied.compiled;
    return applied.report.applied;
  }

  /** The tc changes a second apply would make (none: the trees read back are what was compiled). */
  async replanned(): Promise<string[]> {
    const { plan } = await this.deps.applier.plan(this.policy, false, peersState(this.policy, this.site));
    return plan.filter((op) => op.object.type === 'qdisc' || op.object.type === 'class' || op.object.type === 'filter').map((op) => `${op.op} ${describeObject(op.object)}`);
  }

  /** What status and the metrics would show now. */
  private async look(rates: RateEstimator): Promise<TrafficSnapshot> {
    const observed = await this.deps.kernel.observe({ netns: [this.policy.host.netns], withStats: true });
    return snapshot(this.current, observed, this.policy.host, rates, monotonicMs());
  }

  /** Drives one phase and judges every (container, set) flow against `judge`. */
  async run(phase: SetPhase, judge: Judge, options: SetPhaseOptions): Promise<{ verdict: Verdict; seen?: PhaseSeen }> {
    const { rigs } = this;
    // Every byte of the senders paused before has arrived: counted now, it would be an idle flow sending.
    await Promise.all(SETS.map((s) => rigs[s].drained()));
    const from = Math.max(...SETS.map((s) => rigs[s].setActive(phase.direction, phase.busy.filter((k) => k.endsWith(`@${s}`)).map((k) => k.slice(0, -s.length - 1)))));
    // A 1 ms half-life: the second snapshot's rates are the averages since the first.
    const overPhase = new RateEstimator(1);
    const perSecond = new RateEstimator(1);
    if (options.snapshots) await this.look(overPhase);
    if (options.live) await this.look(perSecond);
    for (let s = 1; s <= Math.ceil(options.phaseSeconds); s++) {
      await sleep(Math.min(1, options.phaseSeconds - (s - 1)) * 1000);
      if (options.live) options.live(await this.look(perSecond), s);
    }
    const to = monotonicMs();
    const measured = new Map<string, BitsPerSec>();
    for (const s of SETS) for (const [pod, rate] of rigs[s].goodput(phase.direction, from, to, options.warmupSeconds * 1000)) if (rate > 0 || phase.busy.includes(flowKey(pod, s))) measured.set(flowKey(pod, s), rate);
    const seen = options.snapshots ? { snap: await this.look(overPhase), measured } : undefined;
    for (const s of SETS) rigs[s].setActive(phase.direction, []);
    const { capacity, containers, ideal } = judge.expect(phase.direction, phase.busy);
    const verdict = judgeAllocation({ capacity, containers, measuredGoodput: measured, ...(options.tolerance ? { tolerance: options.tolerance } : {}), ...(this.v6 ? { geometry: ETHERNET_IPV6_TCP_TIMESTAMPS } : {}) }, () => ideal);
    return { verdict, ...(seen ? { seen } : {}) };
  }

  /** Makes exactly `busy` (flow keys) send in `direction`, outside a phase (a bench watching a class). */
  setBusy(direction: Direction, busy: readonly string[]): void {
    for (const s of SETS) this.rigs[s].setActive(direction, busy.filter((k) => k.endsWith(`@${s}`)).map((k) => k.slice(0, -s.length - 1)));
  }

  /** Stops the rigs (the sandbox stays: teardownSets). */
  async stop(): Promise<void> {
    await Promise.all(SETS.map((s) => this.rigs[s].stop()));
  }
}

/** Everything of `policy`'s sandbox and both peers, removed; safe to call twice. */
export async function teardownSets(deps: DemoDeps, policy: Policy, site: PeerSite): Promise<void> {
  await teardownDemo(deps, policy);
  const r = await deps.applier.converge({ namespaces: [], links: [], addresses: [], routes: [], sysctls: [], qdiscs: [], classes: [], filters: [], cgroups: [] }, [site.netns, PEER_NETNS]);
  if (r.report.failed) throw new ExecutionFailedError('removing the cluster peer', r.report);
}
