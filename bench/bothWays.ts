// bench/bothWays: rule 1 (a busy container's guarantee is never taken) when every busy
// container of a random draw sends both directions at once. A container's download ACKs
// travel in its own upload class and its upload ACKs in its download class, each behind a
// 1,000-packet pfifo leaf shared with its bulk data: at a 2 Mbit/s guarantee that FIFO
// holds seconds. Each direction is judged as randomPolicies judges a one-way phase: the
// oracle fed from the draw itself, 3% of the link per container, floor 90% of
// min(ideal, guarantee). `--one-way` adds each direction alone afterwards (the same
// sandbox, switchTo between phases) to compare. `--ack-class` is the hand-made prototype of
// docs/decisions.md "A container busy both ways": it adds tc objects to the sandbox after
// it is built (one ACK class per device), then runs the same phases. Prints figures and verdicts; exits 0 either way.
import { execFileSync } from 'node:child_process';
import { Applier } from '../src/apply/applier';
import type { CompiledPolicy } from '../src/compile';
import { PEER_NETNS } from '../src/demo/peer';
import { buildSandbox, sandboxSite, teardownDemo, type DemoDeps } from '../src/demo/run';
import { TrafficRig } from '../src/demo/traffic';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { monotonicMs } from '../src/loadgen/protocol';
import type { Judge } from '../src/measure/judge';
import { judgeAllocation, type Tolerance, type Verdict } from '../src/measure/verdict';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import type { Direction } from '../src/tc/model';
import { containerCounters } from '../src/traffic/snapshot';
import { nativeProbe } from '../src/wiring/runtime';
import { describeDraw, drawFromSeed, parseDraw, type RandomDraw } from '../test/support/randomPolicy';
import { judgeOf, writtenFromDraw } from '../test/support/written';
import { exitUnlessRunnable, numberOption, optionValue } from './args';

exitUnlessRunnable({
  name: 'bothWays',
  usage: `bench/bothWays: random draws, every busy container sending both directions at once, each direction judged (rule 1: guarantees)
  flock /run/sluice-dev.lock npx tsx bench/bothWays.ts [--seeds 1,2,…] [--seconds 5] [--one-way] [--ack-class]   (root; sandboxes and traffic: under the lock; ~15 s a seed, ~30 s with --one-way)
  --seeds     draws to run, comma-separated (1–25); a seed draws the same policy and flows as in randomPolicies
  --seconds   measured seconds per phase after a 1.5 s warm-up (5)
  --one-way   also each direction alone, after the both-ways phase
  --ack-class the prototype: ACK-only segments into one small prio-0 class per device (tc, after the sandbox is built)
  --help      this text`,
  valued: ['--seeds'],
  numbers: ['--seconds'],
  switches: ['--one-way', '--ack-class'],
});

const PREFIX = 'bw-';
/** randomPolicies' tolerance: 3% of the link per container, 95% of what the oracle hands out. */
const TOLERANCE: Tolerance = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const WARMUP_MS = 1500;
const DEFAULT_SEEDS = Array.from({ length: 25 }, (_, i) => i + 1).join(',');

const seeds = optionValue('--seeds', DEFAULT_SEEDS).split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  console.error(`bench/bothWays: --seeds takes non-negative integers, comma-separated (got ${optionValue('--seeds', '')})`);
  process.exit(2);
}
const seconds = numberOption('--seconds', 5);
const oneWay = process.argv.includes('--one-way');
const ackClass = process.argv.includes('--ack-class');

const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mbit = (bits: number): string => (bits / 1e6).toFixed(2);

/** The smoothed RTTs (ms) of the established flows `ss -tin` lists in `netns`, by their destination or source address. */
function rttsByAddress(netns: string, side: 'dst' | 'src'): Map<string, number[]> {
  const out = sh('ip', ['netns', 'exec', netns, 'ss', '-tinH', 'state', 'established']);
  const byAddress = new Map<string, number[]>();
  // ss -tinH prints a line of addresses, then a line of TCP info, for each socket.
  const lines = out.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const addrs = /(\d+\.\d+\.\d+\.\d+):\d+\s+(\d+\.\d+\.\d+\.\d+):\d+/.exec(lines[i]!);
    const rtt = / rtt:([\d.]+)\//.exec(lines[i + 1]!);
    if (!addrs || !rtt) continue;
    const address = side === 'dst' ? addrs[2]! : addrs[1]!;
    byAddress.set(address, [...(byAddress.get(address) ?? []), Number(rtt[1])]);
  }
  return byAddress;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Per busy container: the median RTT its download senders (in the peer) and its upload senders (in it) see. */
function rttLine(site: { readonly containers: readonly { readonly name: string; readonly netns: string; readonly address: string }[] }, dirs: readonly Direction[]): string {
  const peer = dirs.includes('download') ? rttsByAddress(PEER_NETNS, 'dst') : new Map<string, number[]>();
  return site.containers
    .map((c) => {
      const down = peer.get(c.address);
      const up = dirs.includes('upload') ? rttsByAddress(c.netns, 'src').get(c.address) : undefined;
      return `${c.name} down ${down ? median(down).toFixed(0) : '-'} up ${up ? median(up).toFixed(0) : '-'}`;
    })
    .join(', ');
}

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

interface Run {
  readonly deps: DemoDeps;
  readonly compiled: CompiledPolicy;
  readonly rig: TrafficRig;
  readonly judge: Judge;
  readonly busy: readonly string[];
  readonly site: Parameters<typeof rttLine>[0];
}

interface PhaseOutcome {
  readonly verdicts: Map<Direction, Verdict>;
  /** Per direction and container: what its HTB class sent over the measured window (bit/s, L2), ACKs included. */
  readonly classRates: Map<Direction, Map<string, number>>;
  readonly rtt: string;
}

/** One phase: `dirs` all loaded by every busy container at once; a verdict per direction. */
async function phase(run: Run, dirs: readonly Direction[]): Promise<PhaseOutcome> {
  for (const d of ['download', 'upload'] as const) await run.rig.switchTo(d, dirs.includes(d) ? run.busy : []);
  const start = monotonicMs();
  await sleep(WARMUP_MS);
  const before = new Map(await Promise.all(dirs.map(async (d) => [d, await classCounts(run.deps, run.compiled, d)] as const)));
  const counted = monotonicMs();
  await sleep((seconds * 1000) / 2);
  const rtt = rttLine(run.site, dirs);
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
    verdicts.set(d, judgeAllocation({ capacity: expectation.capacity, containers: expectation.containers, measuredGoodput, drops: dropped, tolerance: TOLERANCE }, () => expectation.ideal));
  }
  return { verdicts, classRates, rtt };
}

function printVerdict(seed: number, label: string, dir: Direction, v: Verdict, classRates: ReadonlyMap<string, number>): void {
  const failed = v.containers.filter((c) => !c.pass).map((c) => c.id);
  console.log(`  ${label} ${dir}: ${v.pass ? 'PASS' : 'FAIL'}${failed.length ? ` (${failed.join(' ')})` : ''} link ${mbit(v.totalMeasured)} of ideal ${mbit(v.totalIdeal)}${v.utilisationPass ? '' : ' UTILISATION'} drops ${v.totalDrops ?? '?'}`);
  for (const c of v.containers) {
    if (!(c.floor > 0)) continue;
    const why = c.pass ? '' : c.floorPass ? ' OFF' : ' BELOW-FLOOR';
    console.log(`    seed ${seed} ${label} ${dir} ${c.id}: measured ${mbit(c.measured)} class ${mbit(classRates.get(c.id) ?? 0)} ideal ${mbit(c.ideal)} floor ${mbit(c.floor)} err ${(c.errorOfCapacity * 100).toFixed(1)}%${why}`);
  }
}

/** The prototype's class minor: below the first node slot (src/shape/naming.ts), beside the root (1) and default (2) classes. */
const ACK_MINOR = 0x3;

interface Device {
  readonly netns: string;
  readonly dev: string;
}

/** The devices the containers' classes are on (the bridge downloading, the IFB uploading), once each. */
function devicesOf(compiled: CompiledPolicy): Map<string, Device> {
  const devices = new Map<string, Device>();
  for (const c of compiled.containers) for (const cls of [c.classes.download, c.classes.upload]) if (cls) devices.set(`${cls.netns}/${cls.dev}`, { netns: cls.netns, dev: cls.dev });
  return devices;
}

/**
 * The prototype, per device (not per container): one HTB class 1:3 under the root class
 * (prio 0, rate 2% of the link, ceil 5%) with a pfifo leaf, and one u32 node in the
 * address filters' own instance (prio 10, all protocols), numbered 800::7ff so that it is
 * tried before the subnet jump 800::800: IPv4 without options, TCP, total length < 128
 * bytes (52 with timestamps, up to 80 with SACK blocks), flags exactly ACK. Hand-made with
 * tc, outside Sluice's state; the sandbox is torn down whole afterwards.
 */
function addAckClass(compiled: CompiledPolicy, linkMbit: number): number {
  const devices = devicesOf(compiled);
  const kbit = (share: number): string => `${Math.round(linkMbit * 1000 * share)}kbit`;
  for (const { netns, dev } of devices.values()) {
    const tc = (...args: string[]): string => sh('ip', ['netns', 'exec', netns, 'tc', ...args]);
    tc('class', 'add', 'dev', dev, 'parent', '1:1', 'classid', `1:${ACK_MINOR}`, 'htb', 'rate', kbit(0.02), 'ceil', kbit(0.05), 'prio', '0', 'quantum', '1514');
    tc('qdisc', 'add', 'dev', dev, 'parent', `1:${ACK_MINOR}`, 'handle', `${ACK_MINOR}:`, 'pfifo', 'limit', '1000');
    tc('filter', 'add', 'dev', dev, 'parent', '1:', 'prio', '10', 'protocol', 'all', 'handle', '800::7ff', 'u32', 'match', 'u8', '0x45', '0xff', 'at', '0', 'match', 'u8', '0x06', '0xff', 'at', '9', 'match', 'u16', '0x0000', '0xff80', 'at', '2', 'match', 'u8', '0x10', '0xff', 'at', '33', 'flowid', `1:${ACK_MINOR}`);
  }
  return devices.size * 3;
}

/** What the prototype's ACK classes sent and dropped, all devices together. */
function ackClassCounts(compiled: CompiledPolicy): string {
  return [...devicesOf(compiled).values()]
    .map(({ netns, dev }) => {
      const out = sh('ip', ['netns', 'exec', netns, 'tc', '-s', 'class', 'show', 'dev', dev, 'classid', `1:${ACK_MINOR}`]);
      const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(out);
      return `${dev}: ${m ? `${m[2]} packets, ${m[1]} bytes, ${m[3]} dropped` : 'no counters'}`;
    })
    .join('; ');
}

async function runSeed(deps: DemoDeps, seed: number, index: number): Promise<void> {
  const draw: RandomDraw = drawFromSeed(seed, index);
  const policy = parseDraw(draw, PREFIX);
  console.log(`seed ${seed}: ${describeDraw(draw)}`);
  try {
    const compiled = await buildSandbox(deps, policy, () => undefined);
    if (ackClass) console.log(`  ack-class: ${addAckClass(compiled, draw.linkMbit)} tc objects added`);
    const site = sandboxSite(compiled);
    const byName = new Map(draw.containers.map((c) => [c.name, c]));
    const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
    const containers = site.containers.filter((c) => byName.get(c.name)!.busy).map((c) => ({ ...c, flows: byName.get(c.name)!.flows }));
    const rig = await TrafficRig.start({ ...site, containers, directions: ['download', 'upload'] });
    try {
      const run: Run = { deps, compiled, rig, judge: judgeOf(writtenFromDraw(draw)), busy, site: { containers } };
      const phases: (readonly Direction[])[] = oneWay ? [['download', 'upload'], ['download'], ['upload']] : [['download', 'upload']];
      for (const dirs of phases) {
        const label = dirs.length === 2 ? 'both' : 'alone';
        const { verdicts, classRates, rtt } = await phase(run, dirs);
        for (const [d, v] of verdicts) printVerdict(seed, label, d, v, classRates.get(d)!);
        console.log(`  ${label} rtt ms (median per container): ${rtt}`);
        console.log(`  RESULT seed ${seed} ${label} ${[...verdicts].map(([d, v]) => `${d}:${v.pass ? 'pass' : 'FAIL'}`).join(' ')}`);
      }
      if (ackClass) console.log(`  ack-class: ${ackClassCounts(compiled)}`);
    } finally {
      await rig.stop();
    }
  } finally {
    await teardownDemo(deps, policy).catch(() => undefined);
  }
}

function removeLeftovers(): void {
  for (const ns of sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!)) {
    if (ns.startsWith(`sl-${PREFIX}`) || ns === PEER_NETNS) sh('ip', ['netns', 'del', ns]);
  }
}

async function main(): Promise<void> {
  console.log(`bothWays: seeds ${seeds.join(',')}, ${seconds} s measured after ${WARMUP_MS / 1000} s${oneWay ? ', then each direction alone' : ''}${ackClass ? ', ACK-class prototype' : ''}; replay one with --seeds <seed>`);
  removeLeftovers();
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  try {
    for (const [i, seed] of seeds.entries()) await runSeed(deps, seed, i);
  } finally {
    await kernel.close();
    removeLeftovers();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
