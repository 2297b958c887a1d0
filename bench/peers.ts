// bench/peers: Sluice against the reference CNI `bandwidth` plugin and no shaping, the
// same pods wired the same way, the same traffic, in one run (see bench/peers/systems.ts
// for how each system is built). Prints one table, scenario × system, with each system's
// figure as a ratio of Sluice's.
// Run as root: npx tsx bench/peers.ts [--quick] [--json] [--shares-only: no setup or containerd rows]
//   [--shaped-only: bandwidth plugin and Sluice, not the unshaped baseline (as the kernel test runs it)]
//   [--setup-only: no shares rows] [--timings: serve's part of each ADD, phase by phase, on stderr]

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { killAllLoadgens } from '../src/loadgen/driver';
import type { Direction } from '../src/tc/model';
import { bitsPerSec } from '../src/units/units';
import { timeContainerdSetups, type CriSetupTimes } from './peers/containerd';
import { runBench } from './cniBench';
import { markdownTable } from './table';
import { measureSite, type DirectionResult, type ScenarioPlan } from './peers/scenarios';
import { buildSystem, ONE_MORE, pluginRate, removeNamespaces, SYSTEMS, timeSetups, type PodSpec, type SetupTimes, type SystemName } from './peers/systems';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'peers',
  usage: `bench/peers: Sluice against the CNI bandwidth plugin and no shaping: the same pods, the same traffic, one table
  flock /run/sluice-dev.lock npx tsx bench/peers.ts [options]   (root; namespaces, serve, containerd, traffic: under the lock; ~5.5 min, --setup-only ~1.5, --quick ~2.5)
  --quick        3 s phases, 20 pods in the setup rows, 5 through containerd
  --json         the report as JSON on stdout (progress on stderr)
  --shares-only  the sharing and latency rows only: no setup or containerd rows
  --shaped-only  the bandwidth plugin and Sluice only, not the unshaped baseline
  --setup-only   the setup and containerd rows only: no sharing or latency rows
  --timings      serve's part of each ADD, phase by phase (its debug log), on stderr
  --help         this text`,
  switches: ['--quick', '--json', '--shares-only', '--shaped-only', '--setup-only', '--timings'],
});

const CAPACITY = bitsPerSec(100e6);
const mbit = (n: number) => bitsPerSec(n * 1e6);
/** Σ guarantees 90 of 100 mbit; two pods ask for a ceiling, two do not. */
const PODS: readonly PodSpec[] = [
  { name: 'p0', guarantee: mbit(40), priority: 0 },
  { name: 'p1', guarantee: mbit(20), ceiling: mbit(60), priority: 1 },
  { name: 'p2', guarantee: mbit(20), priority: 1 },
  { name: 'p3', guarantee: mbit(10), ceiling: mbit(50), priority: 2 },
];

interface SystemResult {
  readonly directions: Partial<Record<Direction, DirectionResult>>;
  /** Absent with --shares-only (as the kernel test runs it: it judges the sharing rows only). */
  readonly setup?: SetupTimes;
  /** The same systems with containerd's CRI plugin running the ADD chains. */
  readonly containerd?: CriSetupTimes;
}

interface Report {
  readonly capacityBitsPerSec: number;
  readonly pods: readonly (PodSpec & { readonly pluginRate: number })[];
  readonly rateMapping: string;
  readonly sluiceVia: string;
  readonly setupPods: number;
  readonly containerdPods: number;
  readonly timing: ScenarioPlan['timing'];
  /** Every system but `none` with --shaped-only. */
  readonly results: Partial<Record<SystemName, SystemResult>>;
  readonly elapsedS: number;
}

interface Row {
  readonly scenario: string;
  readonly unit: string;
  readonly value: (r: SystemResult) => number | undefined;
  readonly digits: number;
}

const dirRow = (dir: Direction, scenario: string, unit: string, digits: number, f: (d: DirectionResult) => number): Row => ({ scenario: `${scenario} (${dir})`, unit, digits, value: (r) => (r.directions[dir] ? f(r.directions[dir]!) : undefined) });

function rows(directions: readonly Direction[], setupPods: number, containerdPods: number): Row[] {
  const out: Row[] = [];
  for (const d of directions) {
    out.push(
      dirRow(d, 'all busy: min measured/guarantee', '×', 2, (x) => x.guaranteeHeld),
      dirRow(d, 'some idle: link utilisation', '%', 1, (x) => 100 * x.utilisationIdle),
      dirRow(d, 'priority: priority-0 pod share', '%', 1, (x) => 100 * x.priorityShare),
      dirRow(d, 'latency: RTT p50 to an idle pod', 'ms', 2, (x) => x.rttP50Ms),
      dirRow(d, 'latency: RTT p99 to an idle pod', 'ms', 2, (x) => x.rttP99Ms),
      dirRow(d, 'loss: TCP retransmits', '', 0, (x) => x.retransmits),
      dirRow(d, 'loss: qdisc drops', '', 0, (x) => x.qdiscDrops),
    );
  }
  const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);
  out.push(
    { scenario: `setup: ${setupPods} pods brought up (ADD chains)`, unit: 's', digits: 2, value: (r) => seconds(r.setup?.allMs) },
    { scenario: '  of which the plugin after bridge', unit: 's', digits: 2, value: (r) => seconds(r.setup?.chainedMs) },
    { scenario: `setup: ${setupPods} pods, until all shaped`, unit: 's', digits: 2, value: (r) => seconds(r.setup?.allShapedMs) },
    { scenario: `setup: one more pod's ADD chain (median of ${ONE_MORE})`, unit: 'ms', digits: 0, value: (r) => r.setup?.oneMs },
    { scenario: '  of which the plugin after bridge', unit: 'ms', digits: 0, value: (r) => r.setup?.oneChainedMs },
    { scenario: 'setup: one more pod, until shaped', unit: 'ms', digits: 0, value: (r) => r.setup?.oneShapedMs },
    { scenario: "  the plugin's own part: its start until shaped", unit: 'ms', digits: 0, value: (r) => r.setup?.oneOwnMs },
    { scenario: "setup: one more pod's ADD chain, serve down", unit: 'ms', digits: 0, value: (r) => r.setup?.serveDownMs },
    { scenario: `containerd: ${containerdPods} pods, RunPodSandbox each`, unit: 's', digits: 2, value: (r) => seconds(r.containerd?.allMs) },
    { scenario: `containerd: one more pod's RunPodSandbox (median of ${ONE_MORE})`, unit: 'ms', digits: 0, value: (r) => r.containerd?.oneMs },
    { scenario: 'containerd: one more pod, until shaped', unit: 'ms', digits: 0, value: (r) => r.containerd?.oneShapedMs },
  );
  return out;
}

function table(report: Report, directions: readonly Direction[]): string {
  const head = ['scenario', 'none', 'bandwidth plugin', 'Sluice'];
  const lines: string[][] = [];
  for (const row of rows(directions, report.setupPods, report.containerdPods)) {
    const valueOf = (sys: SystemName): number | undefined => {
      const result = report.results[sys];
      return result === undefined ? undefined : row.value(result);
    };
    const s = valueOf('sluice');
    const cell = (sys: SystemName): string => {
      const v = valueOf(sys);
      if (v === undefined) return '–';
      const text = `${v.toFixed(row.digits)}${row.unit && row.unit !== '×' ? ` ${row.unit}` : row.unit}`;
      if (sys === 'sluice' || s === undefined) return text;
      return s === 0 ? `${text} (—)` : `${text} (${(v / s).toFixed(2)}×)`;
    };
    const cells = [cell('none'), cell('bandwidth'), cell('sluice')];
    // A row no system measured (--shares-only, --setup-only) says nothing.
    if (cells.some((c) => c !== '–')) lines.push([row.scenario, ...cells]);
  }
  return markdownTable(head, lines);
}

async function main(): Promise<number> {
  const quick = process.argv.includes('--quick');
  const json = process.argv.includes('--json');
  const sharesOnly = process.argv.includes('--shares-only');
  const systems = process.argv.includes('--shaped-only') ? SYSTEMS.filter((system) => system !== 'none') : SYSTEMS;
  const setupOnly = process.argv.includes('--setup-only');
  const log = (t: string): void => {
    if (!json) console.log(t);
    else console.error(t);
  };
  const missing = sharesOnly ? [] : ['containerd', 'runc', 'ctr', 'gcc', 'nsenter'].filter((tool) => !(process.env['PATH'] ?? '').split(':').some((dir) => existsSync(path.join(dir, tool))));
  if (missing.length > 0) {
    console.error(`bench/peers runs pods through containerd's CRI plugin too; missing: ${missing.join(', ')} (scripts/setup.sh installs them)`);
    return 1;
  }
  const directions: Direction[] = ['download', 'upload'];
  const plan: ScenarioPlan = {
    capacity: CAPACITY,
    busyWhenHalfIdle: ['p2', 'p3'],
    probeTarget: 'p0',
    timing: quick ? { phaseS: 3, warmupS: 1 } : { phaseS: 10, warmupS: 2 },
    directions,
  };
  const setupPods = quick ? 20 : 100;
  const containerdPods = quick ? 5 : 20;
  const started = performance.now();
  const results: Partial<Record<SystemName, SystemResult>> = {};
  removeNamespaces();
  try {
    for (const system of systems) {
      let measuredDirections: SystemResult['directions'] = {};
      if (!setupOnly) {
        log(`${system}: building ${PODS.length} pods, then ${directions.join(' and ')} scenarios`);
        const site = await buildSystem(system, PODS, CAPACITY);
        let measured: Awaited<ReturnType<typeof measureSite>>;
        try {
          measured = await measureSite(site, plan);
        } finally {
          await site.teardown();
        }
        measuredDirections = { download: measured.download, upload: measured.upload };
      }
      results[system] = { directions: measuredDirections };
    }
    if (!sharesOnly) {
      // After every system's sharing rows: containerd's nodes are up at once, their "one more pod" samples taking turns.
      const setups = await timeSetups(systems, setupPods, CAPACITY, log);
      const containerd = await timeContainerdSetups(systems, containerdPods, CAPACITY, log);
      for (const system of systems) results[system] = { directions: results[system]?.directions ?? {}, setup: setups[system], containerd: containerd[system] };
    }
  } finally {
    killAllLoadgens();
    removeNamespaces();
  }
  const report: Report = {
    capacityBitsPerSec: CAPACITY,
    pods: PODS.map((p) => ({ ...p, pluginRate: pluginRate(p) })),
    rateMapping: 'bandwidth plugin: each pod gets its ceiling, or its guarantee where it has no ceiling (ingressRate = egressRate = that rate, burst = max(20 ms of it, 256 KiB))',
    sluiceVia: 'its CNI plugin (the native executable, handing ADD to serve; the Node plugin while serve is down) chained after bridge + host-local (ceiling as runtimeConfig.bandwidth as containerd sends it, guarantee and priority as sluice.dev/ pod annotations), shaped by `sluice serve` on the bridge plugin\'s bridge; containerd rows: Debian\'s containerd 1.6 CRI plugin runs the same conflists (RunPodSandbox as the kubelet sends it, the ceilings as kubernetes.io/*-bandwidth annotations)',
    setupPods,
    containerdPods,
    timing: plan.timing,
    results,
    elapsedS: Math.round((performance.now() - started) / 1000),
  };
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(`\nlink ${CAPACITY / 1e6} mbit/s each way; pods (guarantee / ceiling / priority → plugin rate):`);
  for (const p of report.pods) console.log(`  ${p.name}: ${p.guarantee / 1e6} / ${p.ceiling ? p.ceiling / 1e6 : '–'} / ${p.priority} → ${p.pluginRate / 1e6} mbit/s`);
  console.log(`${report.rateMapping}\nSluice via ${report.sluiceVia}\nsome idle: ${plan.busyWhenHalfIdle.join(', ')} busy; latency: probe to idle ${plan.probeTarget}; rates are L2 (as HTB counts), ratios are system / Sluice; "shaped": the plugin's TBFs when its ADD returns, Sluice's classes once serve has reconciled\n`);
  console.log(table(report, directions));
  const samples = (sys: SystemName, r: SystemResult): string[] => [r.setup ? `${sys} chain ${r.setup.oneSamplesMs.map((ms) => ms.toFixed(0)).join(' ')}` : '', r.containerd ? `${sys} RunPodSandbox ${r.containerd.oneSamplesMs.map((ms) => ms.toFixed(0)).join(' ')}` : ''].filter((t) => t !== '');
  const each = systems.flatMap((sys) => (report.results[sys] ? samples(sys, report.results[sys]!) : []));
  if (each.length > 0) console.log(`\none more pod, each of the ${ONE_MORE} (ms, in order): ${each.join('; ')}`);
  console.log(`\n(${report.elapsedS} s; per-pod rates with all busy: --json)`);
  return 0;
}

runBench('peers', main, () => {
  killAllLoadgens();
  removeNamespaces();
});
