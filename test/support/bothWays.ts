// What bench/bothWays and test/demo/bothWays.kernel.test.ts share: a random draw's busy
// containers loading one or both directions at once on its sandbox, each direction judged
// as randomPolicies judges a one-way phase (the oracle fed from the draw, 3% of the link
// per container, floor 90% of min(ideal, guarantee), 95% of the ideal in all); and the
// ACK class's u32 nodes taken out by hand, for the negative control.
import { execFileSync } from 'node:child_process';
import type { CompiledPolicy } from '../../src/compile';
import { ACK4_NODE, ACK6_NODE, ACK_MINOR, ADDRESS_FILTER_PRIO, U32_ROOT_TABLE } from '../../src/compile/trees';
import { sandboxSite, type DemoDeps } from '../../src/demo/run';
import { TrafficRig } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import type { Judge } from '../../src/measure/judge';
import { judgeAllocation, type Tolerance, type Verdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { containerCounters } from '../../src/traffic/snapshot';
import type { RandomDraw } from './randomPolicy';
import { judgeOf, writtenFromDraw } from './written';

/** randomPolicies' tolerance: 3% of the link per container, 95% of what the oracle hands out. */
export const BOTH_WAYS_TOLERANCE: Tolerance = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
export const WARMUP_MS = 1500;

const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ClassCount {
  readonly drops: number;
  readonly bytes: number;
}

/** Each container's class counters in `dir` so far: drops, and bytes sent (data and the other direction's ACKs alike). */
async function classCounts(deps: DemoDeps, compiled: CompiledPolicy, dir: Direction): Promise<Map<string, ClassCount>> {
  const netns = [...new Set(compiled.containers.flatMap((c) => (c.classes[dir] ? [c.classes[dir]!.netns] : [])))];
  const observed = await deps.kernel.observe({ netns, withStats: true });
  const out = new Map<string, ClassCount>();
  for (const counted of containerCounters(compiled, observed).values()) if (counted.direction === dir) out.set(counted.container, { drops: counted.counters.drops, bytes: counted.counters.bytes });
  return out;
}

/** A draw's sandbox with its busy containers' senders running, both directions. */
export interface BothWaysRun {
  readonly deps: DemoDeps;
  readonly compiled: CompiledPolicy;
  readonly rig: TrafficRig;
  readonly judge: Judge;
  readonly busy: readonly string[];
  /** The busy containers, as the rig has them (name, namespace, address, flows). */
  readonly containers: readonly { readonly name: string; readonly netns: string; readonly address: string }[];
}

/** Starts the draw's busy containers' senders (each with its drawn number of flows) on its built sandbox; stop its rig. */
export async function startBothWays(deps: DemoDeps, compiled: CompiledPolicy, draw: RandomDraw): Promise<BothWaysRun> {
  const site = sandboxSite(compiled);
  const byName = new Map(draw.containers.map((c) => [c.name, c]));
  const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
  const containers = site.containers.filter((c) => byName.get(c.name)!.busy).map((c) => ({ ...c, flows: byName.get(c.name)!.flows }));
  const rig = await TrafficRig.start({ ...site, containers, directions: ['download', 'upload'] });
  return { deps, compiled, rig, judge: judgeOf(writtenFromDraw(draw)), busy, containers };
}

export interface PhaseOutcome {
  readonly verdicts: Map<Direction, Verdict>;
  /** Per direction and container: what its HTB class sent over the measured window (bit/s, L2), ACKs included. */
  readonly classRates: Map<Direction, Map<string, number>>;
}

/**
 * One phase: `dirs` all loaded by every busy container at once (switchTo: a paused
 * direction's bytes have arrived before it starts), a warm-up, `seconds` measured; a
 * verdict per direction. `midway` runs halfway through the measured window (the bench
 * reads RTTs there).
 */
export async function loadPhase(run: BothWaysRun, dirs: readonly Direction[], seconds: number, midway: () => void = () => undefined): Promise<PhaseOutcome> {
  for (const d of ['download', 'upload'] as const) await run.rig.switchTo(d, dirs.includes(d) ? run.busy : []);
  const start = monotonicMs();
  await sleep(WARMUP_MS);
  const before = new Map(await Promise.all(dirs.map(async (d) => [d, await classCounts(run.deps, run.compiled, d)] as const)));
  const counted = monotonicMs();
  await sleep((seconds * 1000) / 2);
  midway();
  await sleep(Math.max(0, start + WARMUP_MS + seconds * 1000 - monotonicMs()));
  const end = monotonicMs();
  const verdicts = new Map<Direction, Verdict>();
  const classRates = new Map<Direction, Map<string, number>>();
  for (const d of dirs) {
    const expectation = run.judge.expect(d, run.busy);
    const after = await classCounts(run.deps, run.compiled, d);
    const was = before.get(d)!;
    const window = (monotonicMs() - counted) / 1000;
    const dropped = new Map([...after].map(([name, n]) => [name, n.drops - (was.get(name)?.drops ?? 0)]));
    classRates.set(d, new Map([...after].map(([name, n]) => [name, ((n.bytes - (was.get(name)?.bytes ?? 0)) * 8) / window])));
    const measuredGoodput = run.rig.goodput(d, start, end, WARMUP_MS);
    verdicts.set(d, judgeAllocation({ capacity: expectation.capacity, containers: expectation.containers, measuredGoodput, drops: dropped, tolerance: BOTH_WAYS_TOLERANCE }, () => expectation.ideal));
  }
  return { verdicts, classRates };
}

interface Device {
  readonly netns: string;
  readonly dev: string;
}

/** The devices the containers' classes are on (the bridge downloading, the IFB uploading), once each. */
function devicesOf(compiled: CompiledPolicy): Device[] {
  const devices = new Map<string, Device>();
  for (const c of compiled.containers) for (const cls of [c.classes.download, c.classes.upload]) if (cls) devices.set(`${cls.netns}/${cls.dev}`, { netns: cls.netns, dev: cls.dev });
  return [...devices.values()];
}

const hex = (n: number): string => n.toString(16);

/**
 * The negative control: compile's ACK nodes (800::7ff, 800::7fe) deleted by hand with tc on
 * every shared device, so that pure ACKs queue in the containers' classes again (today's
 * tree before the ACK class). The class stays, empty. Returns how many nodes it deleted.
 */
export function removeAckNodes(compiled: CompiledPolicy): number {
  let removed = 0;
  for (const { netns, dev } of devicesOf(compiled)) {
    for (const node of [ACK4_NODE, ACK6_NODE]) {
      sh('ip', ['netns', 'exec', netns, 'tc', 'filter', 'del', 'dev', dev, 'parent', '1:', 'prio', String(ADDRESS_FILTER_PRIO), 'protocol', 'all', 'handle', `${hex(U32_ROOT_TABLE)}::${hex(node)}`, 'u32']);
      removed++;
    }
  }
  return removed;
}

/** What the ACK class of each shared device sent and dropped, as tc counts it. */
export function ackClassCounts(compiled: CompiledPolicy): { readonly dev: string; readonly packets: number; readonly bytes: number; readonly dropped: number }[] {
  return devicesOf(compiled).map(({ netns, dev }) => {
    const out = sh('ip', ['netns', 'exec', netns, 'tc', '-s', 'class', 'show', 'dev', dev, 'classid', `1:${hex(ACK_MINOR)}`]);
    const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(out);
    return { dev, packets: m ? Number(m[2]) : NaN, bytes: m ? Number(m[1]) : NaN, dropped: m ? Number(m[3]) : NaN };
  });
}
