// `sluice demo`: build the sandbox, apply policies/demo.yaml, drive traffic through the
// phases of scenario.ts in both directions, show live rates, judge each phase against
// the oracle, and remove everything, also on Ctrl-C or an error.

import type { Applier } from '../apply/applier';
import type { CompiledPolicy } from '../compile';
import type { KernelPort } from '../kernel/port';
import { monotonicMs } from '../loadgen/protocol';
import type { Judge } from '../measure/judge';
import { judgeAllocation, type Tolerance, type Verdict } from '../measure/verdict';
import type { Policy } from '../policy/model';
import type { Direction, KernelState, NetnsLocator } from '../tc/model';
import { containerCounters, RateEstimator } from '../traffic/snapshot';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { PEER_LINK, PEER_NETNS, peerState } from './peer';
import type { Phase } from './scenario';
import { liveTablePrinter, renderLiveTable, type LiveRow } from './table';
import { TrafficRig, type TrafficEndpoint } from './traffic';
import { ExecutionFailedError } from '../apply/errors';

export interface DemoOptions {
  readonly phases: readonly Phase[];
  readonly directions: readonly Direction[];
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  /** Where progress and tables go. */
  readonly out: (text: string) => void;
  /** Redraw the live table in place (a terminal) or print it once per phase. */
  readonly live: boolean;
  /** Default: the 5% of the link per container, 95% utilisation. */
  readonly tolerance?: Tolerance;
  /**
   * What each container should get in each phase, and the link: from what the user wrote
   * (the demo: the policy document; a test: its own policy text, draw, labels or
   * annotations), never from `compiled`, which is what the kernel was told.
   */
  readonly judge: Judge;
}

export interface PhaseResult {
  readonly direction: Direction;
  readonly phase: Phase;
  readonly verdict: Verdict;
}

export interface DemoDeps {
  readonly kernel: KernelPort;
  readonly applier: Applier;
}

/** Everything the demo made, removed in reverse; safe to call twice. */
export async function teardownDemo(deps: DemoDeps, policy: Policy): Promise<void> {
  await deps.applier.destroy(policy.host.name, policy);
  await deps.applier.converge({ namespaces: [], links: [], addresses: [], routes: [], sysctls: [], qdiscs: [], classes: [], filters: [], cgroups: [] }, [PEER_NETNS]).then((r) => {
    if (r.report.failed) throw new ExecutionFailedError('removing the demo peer', r.report);
  });
}

/** How a test bends the sandbox: what it applies instead of the compiled state, the peer's GSO. */
export interface SandboxVariant {
  readonly adjust?: (compiled: KernelState) => KernelState;
  /** The peer veth's GSO (peerState); default 'kernel-default'. */
  readonly peerGso?: 'capped' | 'kernel-default';
}

export async function buildSandbox(deps: DemoDeps, policy: Policy, out: (t: string) => void, variant?: SandboxVariant): Promise<CompiledPolicy> {
  const adjust = variant?.adjust;
  const applied = await deps.applier.apply(policy, false, adjust ? (planned) => adjust(planned.compiled.state) : undefined);
  if (applied.report.failed) throw new ExecutionFailedError('applying the demo policy', applied.report);
  out(`applied ${applied.report.applied.length} operations (namespaces, veths, bridge, IFB, HTB trees, filters)`);
  const peer = await deps.applier.ensure(peerState(policy.host, variant?.peerGso), [policy.host.netns, PEER_NETNS], policy);
  if (peer.report.failed) throw new ExecutionFailedError('creating the demo peer', peer.report);
  out(`created the remote peer ${PEER_NETNS} (${PEER_LINK.peer}), routed through ${policy.host.netns}`);
  return applied.compiled;
}

/** Where the demo's traffic flows: a peer outside the bridge, and each container. */
export interface TrafficSite {
  readonly peerNetns: NetnsLocator;
  readonly peerAddress: string;
  readonly containers: readonly TrafficEndpoint[];
}

/** The sandbox's site: the routed peer namespace, and the containers' own namespaces. */
export function sandboxSite(compiled: CompiledPolicy): TrafficSite {
  const containers = compiled.containers.filter((c) => c.netns && c.address);
  return { peerNetns: PEER_NETNS, peerAddress: PEER_LINK.peer, containers: containers.map((c) => ({ name: c.name, netns: c.netns!, address: c.address! })) };
}

/**
 * Drives `phases` through the site and judges each against `options.judge`. `compiled`
 * says where to count (the classes' counters, for the live table and the drops), not
 * what to expect.
 */
export async function runPhases(deps: DemoDeps, compiled: CompiledPolicy, site: TrafficSite, options: DemoOptions): Promise<PhaseResult[]> {
  const rig = await TrafficRig.start({ ...site, directions: options.directions });
  const results: PhaseResult[] = [];
  try {
    for (const direction of options.directions) {
      for (const phase of options.phases) results.push(await runPhase(deps, compiled, rig, direction, phase, options));
      // Paused, not drained: the next direction's first switchTo waits for these bytes, the end of the run does not.
      rig.setActive(direction, []);
    }
  } finally {
    await rig.stop();
  }
  return results;
}

async function runPhase(deps: DemoDeps, compiled: CompiledPolicy, rig: TrafficRig, direction: Direction, phase: Phase, options: DemoOptions): Promise<PhaseResult> {
  const expectation = options.judge.expect(direction, phase.active);
  const { capacity, ideal } = expectation;
  options.out(phaseHeading(direction, phase));
  const asked = monotonicMs();
  const from = await rig.switchTo(direction, phase.active);
  if (from - asked >= DRAIN_NOTICE_MS) options.out(drainNotice(from - asked));
  const meter = new ClassMeter(deps.kernel, compiled, direction);
  const dropsBefore = (await meter.sample()).drops;
  const printer = liveTablePrinter(options.out, options.live);
  for (let s = 0; s < options.phaseSeconds; s++) {
    await sleep(1000);
    const rates = await meter.sample();
    const rows: LiveRow[] = compiled.containers.flatMap((c) => {
      const cls = c.classes[direction];
      if (!cls) return [];
      return [{ name: c.name, guarantee: cls.guarantee, ceiling: cls.ceiling, priority: cls.priority, rate: rates.rate.get(c.name) ?? bitsPerSec(0), ideal: ideal.get(c.name) ?? bitsPerSec(0), drops: rates.drops.get(c.name) ?? 0, active: phase.active.includes(c.name) }];
    });
    printer.show(renderLiveTable(`${direction} t=${s + 1}s`, rows, capacity));
  }
  printer.done();
  const to = monotonicMs();
  const measured = rig.goodput(direction, from, to, options.warmupSeconds * 1000);
  // The phase's own drops: the counters count from the class's creation.
  const dropsAfter = (await meter.sample()).drops;
  const drops = new Map([...dropsAfter].map(([name, n]) => [name, n - (dropsBefore.get(name) ?? 0)]));
  // A container that sends but was never written is no one's to judge: judgeAllocation refuses it.
  const verdict = judgeAllocation(
    {
      capacity,
      containers: expectation.containers,
      measuredGoodput: measured,
      drops,
      ...(options.tolerance ? { tolerance: options.tolerance } : {}),
    },
    () => ideal,
  );
  return { direction, phase, verdict };
}

/** A wait for the last phase's bytes this long is said, so the pause before the first second does not look like a hang. */
const DRAIN_NOTICE_MS = 500;

/** Why a phase starts late: TCP still delivered what the paused senders had written. */
export const drainNotice = (ms: number): string => `   (waited ${(ms / 1000).toFixed(1)} s for bytes the last phase's senders had already handed to TCP, so that they do not count in this one)`;

/** The line that opens a phase of the demo. */
export const phaseHeading = (direction: Direction, phase: Phase): string => `\n── ${direction} · phase "${phase.name}": ${phase.shows} (sending: ${phase.active.join(', ')})`;

/** Per-container rates and drops from the HTB class counters (what the kernel itself counted). */
class ClassMeter {
  /** Rates over the last interval, unsmoothed: the table shows what happened that second. */
  private readonly rates = new RateEstimator(1);
  private readonly netns: NetnsLocator[];

  constructor(private readonly kernel: KernelPort, private readonly compiled: CompiledPolicy, private readonly direction: Direction) {
    this.netns = [...new Set(compiled.containers.flatMap((c) => (c.classes[direction] ? [c.classes[direction]!.netns] : [])))];
  }

  async sample(): Promise<{ rate: Map<string, BitsPerSec>; drops: Map<string, number> }> {
    const observed = await this.kernel.observe({ netns: this.netns, withStats: true });
    const t = monotonicMs();
    const rate = new Map<string, BitsPerSec>();
    const drops = new Map<string, number>();
    for (const counted of containerCounters(this.compiled, observed).values()) {
      if (counted.direction !== this.direction) continue;
      drops.set(counted.container, counted.counters.drops);
      rate.set(counted.container, this.rates.update(counted.container, counted.counters.bytes, t));
    }
    return { rate, drops };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

