// bench/datapath: what shaping costs at line rate, side by side in one run on one node
// (bench/datapath/node.ts): a CNI bridge plugin's bridge with default-GSO veths, containers
// attached by address, a routed peer, iperf3 with two flows per busy container. Systems,
// interleaved round by round so that a noisy neighbour hits them alike:
//   none                  nothing shapes
//   bandwidth             the reference CNI plugin (TBF), each container limited above line rate
//   bandwidth ≈<L>G       the plugin capping each busy container at its share of a link of L (a CPU reference)
//   sluice                an external Host whose capacity is above line rate (holds nothing back)
//   sluice <L>G           the same Host with a link of L Gbit/s, four busy containers 4:2:2:1
// Prints per direction: aggregate goodput and CPU per Gbit/s (and both as ratios to none
// in the same round), retransmits and drops, bytes per packet on each device crossed, and
// when shaping the worst container's error against the oracle (% of the link) and how many
// busy containers missed their floor (90% of min(ideal, guarantee)).
// Run as root: npx tsx bench/datapath.ts [--quick] [--containers 4] [--links 5,10]
//   [--rounds 3] [--seconds 8] [--json]

import { loadavg } from 'node:os';
import type { OracleInput } from '../src/measure/verdict';
import { allocate } from '../src/allocate/oracle';
import { judgeAllocation } from '../src/measure/verdict';
import type { Direction } from '../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../src/units/units';
import {
  attachBandwidthPlugin,
  attachSluice,
  buildNode,
  deviceSettings,
  removeNamespaces,
  removeNode,
  restoreSizes,
  settingsChanged,
  sluicePolicy,
  type Container,
  type Node,
  type Shaper,
  type SluiceContainer,
} from './datapath/node';
import { cpuPerGbit, FLOWS_PER_CONTAINER, measure, type Measurement, type Timing } from './datapath/traffic';
import { runBench } from './cniBench';
import { markdownTable } from './table';
import { exitUnlessRunnable, optionValue, numberOption } from './args';

exitUnlessRunnable({
  name: 'datapath',
  usage: `bench/datapath: what shaping costs at line rate: goodput, CPU per Gbit/s, drops and error against the oracle for no shaping, the CNI bandwidth plugin and Sluice, in one run
  flock /run/sluice-dev.lock npx tsx bench/datapath.ts [options]   (root; builds namespaces and drives traffic: under the lock)
  --quick           1 round of 4 s phases
  --containers N,M  busy containers per row (4)
  --links L,M       Sluice link sizes in Gbit/s (5,10)
  --rounds N        rounds, systems interleaved (3; 1 with --quick)
  --seconds N       each measurement (8; 4 with --quick)
  --json            the report as JSON on stdout (progress on stderr)
  --help            this text`,
  switches: ['--quick', '--json'],
  valued: ['--containers', '--links'],
  numbers: ['--rounds', '--seconds'],
});

const DIRECTIONS: readonly Direction[] = ['download', 'upload'];
const gbit = (n: number): BitsPerSec => bitsPerSec(n * 1e9);
/** Above anything this machine forwards: Sluice's link and the plugin's limits when nothing should be held back. */
const OPEN_CAPACITY = gbit(100);
const PLUGIN_LIMIT = gbit(50);
/** The busy containers' guarantees, in the demo's 4:2:2:1 pattern, adding up to this share of the link. */
const BUSY_WEIGHTS = [4, 2, 2, 1] as const;
const BUSY_SHARE = 0.8;
/** Each idle container's guarantee, as a share of the link (96 idle ones: 9.6%). */
const IDLE_SHARE = 0.001;
const PRIORITY = 1;

interface SystemSpec {
  readonly label: string;
  /** The link Sluice shapes to; undefined where nothing is held back. */
  readonly shapesAt: BitsPerSec | undefined;
  attach(node: Node, busy: readonly Container[]): Promise<Shaper>;
}

/** Each container's guarantee and priority on a link of `capacity`. */
function sluiceContainers(node: Node, busy: readonly Container[], capacity: BitsPerSec): SluiceContainer[] {
  const busyUnit = (BUSY_SHARE * capacity) / BUSY_WEIGHTS.slice(0, busy.length).reduce((a, b) => a + b, 0);
  return node.containers.map((container) => {
    const b = busy.indexOf(container);
    return { container, guarantee: bitsPerSec(b >= 0 ? BUSY_WEIGHTS[b]! * busyUnit : IDLE_SHARE * capacity), priority: PRIORITY };
  });
}

function systems(links: readonly number[]): SystemSpec[] {
  const sluiceAt = (capacity: BitsPerSec, label: string, shapes: boolean): SystemSpec => ({
    label,
    shapesAt: shapes ? capacity : undefined,
    attach: (node, busy) => attachSluice(sluicePolicy(capacity, sluiceContainers(node, busy, capacity))),
  });
  // The plugin capping each container at the share Sluice gives it on a link of L: the same
  // rates, so the cost of holding traffic back (timers, smaller batches) is compared alike.
  const pluginAtShares = (l: number): SystemSpec => ({
    label: `bandwidth ≈${l}G`,
    shapesAt: undefined,
    attach: (node, busy) => {
      const ideal = allocate(gbit(l), oracleInputs(node, busy, gbit(l)));
      // TBF, like HTB, counts each packet's L2 length: the ideal (L2) rate is the cap.
      return attachBandwidthPlugin(node, (c) => (busy.includes(c) ? ideal.get(c.name)! : PLUGIN_LIMIT));
    },
  });
  return [
    { label: 'none', shapesAt: undefined, attach: async () => ({ detach: async () => undefined }) },
    { label: `bandwidth ${PLUGIN_LIMIT / 1e9}G`, shapesAt: undefined, attach: (node) => attachBandwidthPlugin(node, () => PLUGIN_LIMIT) },
    sluiceAt(OPEN_CAPACITY, `sluice ${OPEN_CAPACITY / 1e9}G`, false),
    ...links.flatMap((l) => [pluginAtShares(l), sluiceAt(gbit(l), `sluice ${l}G`, true)]),
  ];
}

interface Run {
  readonly system: string;
  readonly round: number;
  readonly direction: Direction;
  readonly m: Measurement;
  /** When shaping: the worst container's |measured − ideal| / link, and busy containers below their floor. */
  readonly worstError?: number;
  readonly floorMisses?: number;
}

/** The oracle's inputs, from what the operator wrote: guarantees, priority; busy = more than the link. */
function oracleInputs(node: Node, busy: readonly Container[], capacity: BitsPerSec): OracleInput[] {
  return sluiceContainers(node, busy, capacity).map((s) => ({
    id: s.container.name,
    guarantee: s.guarantee,
    ceiling: capacity,
    priority: s.priority,
    demand: bitsPerSec(busy.includes(s.container) ? 2 * capacity : 0),
  }));
}

interface Judged {
  readonly worstError: number;
  readonly floorMisses: number;
  /** Per busy container: measured / ideal, Gbit/s at L2. */
  readonly detail: string;
}

function judge(node: Node, busy: readonly Container[], capacity: BitsPerSec, m: Measurement): Judged {
  const verdict = judgeAllocation({ capacity, containers: oracleInputs(node, busy, capacity), measuredGoodput: m.goodput }, allocate);
  const judged = verdict.containers.filter((c) => busy.some((b) => b.name === c.id));
  return {
    worstError: Math.max(...judged.map((c) => c.errorOfCapacity)),
    floorMisses: judged.filter((c) => !c.floorPass).length,
    detail: judged.map((c) => `${c.id} ${(c.measured / 1e9).toFixed(2)}/${(c.ideal / 1e9).toFixed(2)}`).join(' '),
  };
}

async function runCount(count: number, specs: readonly SystemSpec[], rounds: number, timing: Timing, log: (t: string) => void): Promise<Run[]> {
  log(`\n${count} container(s): building the node (CNI bridge + host-local ADD for each)`);
  const node = await buildNode(count);
  const busy = node.containers.slice(0, BUSY_WEIGHTS.length);
  const runs: Run[] = [];
  try {
    const settings = await deviceSettings(node);
    for (let round = 1; round <= rounds; round++) {
      // Every other round in reverse, so that load that rises or falls over a run weighs on every system alike.
      for (const spec of round % 2 ? specs : [...specs].reverse()) {
        const shaper = await spec.attach(node, busy);
        try {
          for (const direction of DIRECTIONS) {
            const m = await measure(direction, busy, timing);
            const judged = spec.shapesAt ? judge(node, busy, spec.shapesAt, m) : undefined;
            runs.push({ system: spec.label, round, direction, m, ...(judged ? { worstError: judged.worstError, floorMisses: judged.floorMisses } : {}) });
            log(`  round ${round} ${spec.label.padEnd(14)} ${direction.padEnd(8)} ${(m.total / 1e9).toFixed(2)} Gbit/s, ${m.busyCores.toFixed(2)} cores${judged ? `; measured/ideal Gbit/s: ${judged.detail}` : ''}`);
          }
        } finally {
          await shaper.detach();
        }
        const changed = settingsChanged(settings, await deviceSettings(node));
        if (changed.length > 0) {
          log(`  ${spec.label} left devices it does not own changed (put back for the next system): ${changed.join('; ')}`);
          await restoreSizes(settings);
        }
      }
    }
  } finally {
    removeNode(node);
  }
  return runs;
}

// ------------------------------------------------------------------ the table

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Median over rounds of a system's figure divided by none's in the same round. */
function ratioToNone(runs: readonly Run[], mine: readonly Run[], f: (m: Measurement) => number): number {
  return median(mine.map((r) => f(r.m) / f(runs.find((n) => n.system === 'none' && n.round === r.round && n.direction === r.direction)!.m)));
}

const sizeOf = (bytes: number | undefined): string => (bytes === undefined ? '–' : bytes >= 10_000 ? `${(bytes / 1000).toFixed(0)}k` : `${(bytes / 1000).toFixed(1)}k`);

function table(runs: readonly Run[], specs: readonly SystemSpec[]): string {
  const head = ['direction', 'system', 'Gbit/s', '×none', 'cores', 'CPU/Gbit/s', '×none', 'worst error', 'floor misses', 'retransmits', 'drops q/dev', 'bytes/packet uplink·bridge·veths·ifb'];
  const lines: string[][] = [];
  for (const direction of DIRECTIONS) {
    for (const spec of specs) {
      const mine = runs.filter((r) => r.system === spec.label && r.direction === direction);
      if (mine.length === 0) continue;
      const last = mine.at(-1)!.m;
      const shaped = mine.filter((r) => r.worstError !== undefined);
      lines.push([
        direction,
        spec.label,
        (median(mine.map((r) => r.m.total)) / 1e9).toFixed(2),
        `${ratioToNone(runs, mine, (m) => m.total).toFixed(2)}×`,
        median(mine.map((r) => r.m.busyCores)).toFixed(2),
        median(mine.map((r) => cpuPerGbit(r.m))).toFixed(3),
        `${ratioToNone(runs, mine, cpuPerGbit).toFixed(2)}×`,
        shaped.length ? `${(100 * Math.max(...shaped.map((r) => r.worstError!))).toFixed(1)}%` : '–',
        shaped.length ? String(shaped.reduce((s, r) => s + r.floorMisses!, 0)) : '–',
        String(mine.reduce((s, r) => s + r.m.retransmits, 0)),
        `${mine.reduce((s, r) => s + r.m.qdiscDrops, 0)}/${mine.reduce((s, r) => s + r.m.deviceDrops, 0)}`,
        ['uplink', 'bridge', 'veths', 'ifb'].map((d) => sizeOf(last.bytesPerPacket.get(d))).join('·'),
      ]);
    }
  }
  return markdownTable(head, lines);
}

async function main(): Promise<number> {
  const quick = process.argv.includes('--quick');
  const json = process.argv.includes('--json');
  const log = (t: string): void => (json ? console.error(t) : console.log(t));
  const counts = optionValue('--containers', '4').split(',').map(Number);
  const links = optionValue('--links', '5,10').split(',').map(Number);
  const rounds = numberOption('--rounds', quick ? 1 : 3);
  const timing: Timing = { seconds: numberOption('--seconds', quick ? 4 : 8), omitSeconds: quick ? 1 : 2 };
  const specs = systems(links);
  const started = performance.now();
  const loadBefore = loadavg();
  const results: Record<number, Run[]> = {};
  try {
    for (const count of counts) results[count] = await runCount(count, specs, rounds, timing, log);
  } finally {
    removeNamespaces();
  }
  const loadAfter = loadavg();
  const elapsedS = Math.round((performance.now() - started) / 1000);
  if (json) {
    const plain = Object.fromEntries(Object.entries(results).map(([n, runs]) => [n, runs.map((r) => ({ ...r, m: { ...r.m, goodput: Object.fromEntries(r.m.goodput), bytesPerPacket: Object.fromEntries(r.m.bytesPerPacket) } }))]));
    console.log(JSON.stringify({ timing, rounds, links, loadBefore, loadAfter, elapsedS, results: plain }, null, 2));
    return 0;
  }
  for (const count of counts) {
    const busy = Math.min(count, BUSY_WEIGHTS.length);
    console.log(`\n${count} container(s), ${busy} busy with ${FLOWS_PER_CONTAINER} iperf3 flows each (guarantees ${BUSY_WEIGHTS.slice(0, busy).join(':')}, one priority), ${count - busy} idle; ${rounds} round(s) of ${timing.seconds} s after ${timing.omitSeconds} s`);
    console.log(table(results[count]!, specs));
  }
  const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nGbit/s: goodput; ×none: median over rounds of the ratio to none in the same round; cores: busy CPUs of the machine over the window (/proc/stat, other load included); worst error: the container furthest from the oracle, % of the link (all rounds); bytes/packet on the last round`);
  console.log(`load average ${fmtLoad(loadBefore)} before, ${fmtLoad(loadAfter)} after; ${elapsedS} s`);
  return 0;
}

runBench('datapath', main, removeNamespaces);
