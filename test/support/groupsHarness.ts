// The groups kernel tests' harness: a policy applied to a fresh sandbox, its busy
// containers sending with their own number of flows in one direction, each container's
// goodput over a steady window judged by a Judge fed from what the user wrote (the draw:
// writtenTreeJudge with the hierarchical oracle), never from compiled classes.
import { buildSandbox, sandboxSite, type DemoDeps } from '../../src/demo/run';
import { TrafficRig } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import type { Judge } from '../../src/measure/judge';
import { judgeAllocation, type Tolerance, type Verdict } from '../../src/measure/verdict';
import type { Policy } from '../../src/policy/model';
import type { Direction } from '../../src/tc/model';
import type { BitsPerSec } from '../../src/units/units';
import { describeObject } from '../../src/tc/describe';
import { peerState } from '../../src/demo/peer';
import { createMetrics } from '../../src/metrics/metrics';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../../src/traffic/snapshot';

export interface TreePhase {
  readonly direction: Direction;
  /** The containers that send (the rest are idle). */
  readonly busy: readonly string[];
  /** Parallel TCP flows per busy container (default 1). */
  readonly flows?: ReadonlyMap<string, number>;
}

export interface HarnessOptions {
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  readonly tolerance: Tolerance;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface TreeRun {
  readonly verdicts: Verdict[];
  /** What a second apply right after the first would do (a converged kernel: nothing). */
  readonly replanned: readonly string[];
  /** The traffic snapshot and its /metrics exposition, read from the kernel after the phases. */
  readonly snapshot: TrafficSnapshot;
  readonly metrics: string;
}

/** Builds the sandbox for `policy`, runs each phase in turn (traffic switched per phase), and returns `judge`'s verdict per phase. */
export async function runTreePhases(deps: DemoDeps, policy: Policy, judge: Judge, phases: readonly TreePhase[], options: HarnessOptions): Promise<TreeRun> {
  const compiled = await buildSandbox(deps, policy, () => undefined);
  // With the demo's peer beside the policy, as the sandbox made it.
  const replanned = (await deps.applier.plan(policy, false, peerState(policy.host))).plan.map((op) => `${op.op} ${describeObject(op.object)}`);
  const site = sandboxSite(compiled);
  const everBusy = new Set(phases.flatMap((p) => p.busy));
  const flowsOf = (name: string): number => phases.find((p) => p.flows?.has(name))?.flows?.get(name) ?? 1;
  const containers = site.containers.filter((c) => everBusy.has(c.name)).map((c) => ({ ...c, flows: flowsOf(c.name) }));
  const directions = [...new Set(phases.map((p) => p.direction))];
  const rig = await TrafficRig.start({ ...site, containers, directions });
  const verdicts: Verdict[] = [];
  try {
    for (const phase of phases) {
      const from = await rig.switchTo(phase.direction, phase.busy);
      await sleep(options.phaseSeconds * 1000);
      const measured = rig.goodput(phase.direction, from, monotonicMs(), options.warmupSeconds * 1000);
      rig.setActive(phase.direction, []);
      verdicts.push(judgePhase(judge, phase, measured, options.tolerance));
    }
    // The snapshot below compares a group's counters with its members', read in one dump
    // but not at one instant: bytes still arriving would be counted in one and not yet the other.
    await rig.drained();
  } finally {
    await rig.stop();
  }
  const read = await deps.applier.plan(policy, true, peerState(policy.host));
  const snap = snapshot(read.compiled, read.observed, policy.host, new RateEstimator(), read.observed.statsAt ?? monotonicMs());
  const metrics = await createMetrics({ snapshot: () => snap }, 'test').render();
  return { verdicts, replanned, snapshot: snap, metrics };
}

/** Each container that sent against what `judge` expects of the phase: within the tolerance of the link and at its relative floor. */
function judgePhase(judge: Judge, phase: TreePhase, measured: ReadonlyMap<string, BitsPerSec>, tolerance: Tolerance): Verdict {
  const { capacity, containers, ideal } = judge.expect(phase.direction, phase.busy);
  // A container that sends but was never written is no one's to judge: judgeAllocation refuses it.
  return judgeAllocation({ capacity, containers, measuredGoodput: measured, tolerance }, () => ideal);
}
