// bench/idleAdd: one more pod's ADD on a Sluice node of 100 pods (bench/peers' node: the
// bridge plugin, then `sluice`, handed to `sluice serve`), after serve has been idle for
// 0, 200, 500 ms or 2 s past its tick after the previous pod. Per ADD, serve's own figures
// from its debug log: its answer and phases, and, measured in serve across the answer,
// minor page faults (~13 µs each on this VM), GC and CPU time. Each variant is a fresh
// node whose serve runs with other node flags or environment, to find what makes an
// answer after idle slow (V8's memory reducer, glibc trimming, bytecode flushing).
// Run as root: flock /run/sluice-dev.lock npx tsx bench/idleAdd.ts [pods=100] [--reps N] [--variants a,b] [--records-on DIR]

import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEADROOM_ENV } from '../src/daemon/heapHeadroom';
import { ANSWER_SCHEDSTAT_ENV } from '../src/daemon/serve';
import { bitsPerSec } from '../src/units/units';
import { exitUnlessRunnable, numberOption, optionValue } from './args';
import { runBench } from './cniBench';
import { addEvents, logEvents, type Answered, type Changed } from './peers/addPhases';
import { serveRuntime } from './peers/sluiceNode';
import { bringUp, removeNamespaces, type OneMore } from './peers/systems';
import { median } from './stats';

exitUnlessRunnable({
  name: 'idleAdd',
  usage: `bench/idleAdd: one more pod's ADD to serve after idle gaps, with serve's page faults, GC and CPU per answer
  flock /run/sluice-dev.lock npx tsx bench/idleAdd.ts [pods] [--reps N] [--variants a,b]   (root; namespaces, serve: under the lock; ~1 min a variant)
  pods        pods on the node before the samples (100)
  --reps      ADDs per gap (4)
  --variants  which of: ${'baseline (headroom off), headroom, no-memory-reducer, malloc-trim, no-flush-bytecode, all, semi-space-16, trace-gc, cpu-prof'} (all of them but cpu-prof; all but headroom and cpu-prof as serve ran without its collection)
  --keep-logs copy each variant's serve log into this directory
  --records-on the plugin's state directory is made in DIR (/dev/shm, a tmpfs as a node's /run; /var/tmp: a disk, as /var/lib/cni)
  --help      this text`,
  valued: ['--variants', '--keep-logs', '--records-on'],
  numbers: ['--reps'],
  positionals: { max: 1, pattern: /^\d+$/ },
});

const GAPS_MS = [0, 200, 500, 2000] as const;

interface Variant {
  readonly name: string;
  readonly nodeFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

const MALLOC = { MALLOC_TRIM_THRESHOLD_: String(256 << 20), MALLOC_TOP_PAD_: String(64 << 20) };
/** serve's own collection after its ticks (src/daemon/heapHeadroom.ts) off: as serve ran before it. */
const OFF = { [HEADROOM_ENV]: '0' };
const VARIANTS: readonly Variant[] = [
  { name: 'baseline', nodeFlags: [], env: { [HEADROOM_ENV]: '0' } },
  { name: 'headroom', nodeFlags: [], env: {} },
  { name: 'no-memory-reducer', nodeFlags: ['--no-memory-reducer'], env: OFF },
  { name: 'malloc-trim', nodeFlags: [], env: { ...MALLOC, ...OFF } },
  { name: 'no-flush-bytecode', nodeFlags: ['--no-flush-bytecode'], env: OFF },
  { name: 'all', nodeFlags: ['--no-memory-reducer', '--no-flush-bytecode'], env: { ...MALLOC, ...OFF } },
  { name: 'semi-space-16', nodeFlags: ['--min-semi-space-size=16'], env: OFF },
  { name: 'trace-gc', nodeFlags: ['--trace-gc', '--trace-gc-nvp'], env: OFF },
  // serve's CPU profile (written when it stops) into SLUICE_BENCH_PROF_DIR or the working directory: where an answer's CPU goes.
  { name: 'cpu-prof', nodeFlags: ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${process.env['SLUICE_BENCH_PROF_DIR'] ?? '.'}`], env: {} },
];

interface Sample {
  readonly gapMs: number;
  readonly more: OneMore;
  readonly answered: Answered;
  readonly changed: Changed;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(1));

const COLUMNS = 'chain, plugin→shaped | serve: answer, record, load, plan, own.rec, netlink | faults: answer, load, change | cpu | gc n/ms kinds | new space KiB | run queue ms';
function row(s: Sample): string {
  const a = s.answered;
  const c = s.changed;
  const p = (k: string): string => f1(c.phasesMs?.[k]);
  return `${f1(s.more.chainMs)}, ${f1(s.more.ownMs)} | ${f1(a.totalMs)}, ${f1(a.recordMs)}, ${f1(c.loadMs)}, ${p('plan')}, ${p('record')}, ${p('execute')} | ${a.minorFaults ?? '-'}, ${c.faults?.load ?? '-'}, ${c.faults?.change ?? '-'} | ${f1(a.cpuMs)} | ${a.gcCount ?? '-'}/${f1(a.gcMs)} ${a.gcKinds?.join('+') ?? ''} | ${a.newSpaceKb ?? '-'} | ${f1(a.runQueueMs)}`;
}

async function runVariant(variant: Variant, pods: number, reps: number): Promise<Sample[]> {
  serveRuntime.timings = true;
  serveRuntime.nodeFlags = variant.nodeFlags;
  serveRuntime.env = { ...variant.env, [ANSWER_SCHEDSTAT_ENV]: '1' };
  serveRuntime.recordsParent = optionValue('--records-on', serveRuntime.recordsParent);
  const node = await bringUp('sluice', pods, bitsPerSec(100e6), GAPS_MS.length * reps);
  const taken: { gapMs: number; more: OneMore }[] = [];
  try {
    let since = Date.now();
    let k = 0;
    for (let r = 0; r < reps; r++) {
      // The gaps in a new order each round: a burst on the machine falls on no one gap alone.
      const order = GAPS_MS.map((_, i) => GAPS_MS[(i + r) % GAPS_MS.length]!);
      for (const gapMs of order) {
        await node.settled!(since);
        await sleep(gapMs);
        since = Date.now();
        taken.push({ gapMs, more: await node.add(k++) });
      }
    }
    await node.settled!(since);
    await sleep(100);
    const log = addEvents(logEvents(readFileSync(node.serveLog!, 'utf8')));
    const answered = log.answered.slice(-taken.length);
    const changed = log.changed.slice(-taken.length);
    if (answered.length !== taken.length || changed.length !== taken.length) throw new Error(`serve logged ${answered.length} answers and ${changed.length} changes for ${taken.length} ADDs; its log: ${node.serveLog}`);
    const keep = optionValue('--keep-logs', '');
    if (keep) copyFileSync(node.serveLog!, join(keep, `serve-${variant.name}.log`));
    return taken.map((t, i) => ({ ...t, answered: answered[i]!, changed: changed[i]! }));
  } finally {
    await node.close();
  }
}

async function main(): Promise<number> {
  const pods = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100);
  const reps = numberOption('--reps', 4);
  const names = optionValue('--variants', VARIANTS.filter((v) => v.name !== 'cpu-prof').map((v) => v.name).join(',')).split(',');
  const variants = VARIANTS.filter((v) => names.includes(v.name));
  const unknown = names.filter((n) => !VARIANTS.some((v) => v.name === n));
  if (unknown.length > 0) {
    console.error(`bench/idleAdd: unknown variant ${unknown.join(', ')} (known: ${VARIANTS.map((v) => v.name).join(', ')})`);
    return 2;
  }
  removeNamespaces('sluice');
  const summary: string[] = [];
  for (const variant of variants) {
    console.log(`\n${variant.name} (node ${variant.nodeFlags.join(' ') || '-'}; env ${Object.entries(variant.env).map(([k, v]) => `${k}=${v}`).join(' ') || '-'}; records in ${optionValue('--records-on', '/dev/shm')}): ${pods} pods, then ${reps} ADDs per gap`);
    const samples = await runVariant(variant, pods, reps);
    console.log(`gap ms: ${COLUMNS}`);
    for (const s of samples) console.log(`${String(s.gapMs).padStart(5)}: ${row(s)}`);
    for (const gapMs of GAPS_MS) {
      const of = samples.filter((s) => s.gapMs === gapMs);
      const m = (f: (s: Sample) => number): string => f1(median(of.map(f)));
      summary.push(`${variant.name.padEnd(18)} ${String(gapMs).padStart(5)}: chain ${m((s) => s.more.chainMs)}, answer ${m((s) => s.answered.totalMs)}, load ${m((s) => s.changed.loadMs)}, netlink ${m((s) => s.changed.phasesMs?.['execute'] ?? 0)}, run queue ${m((s) => s.answered.runQueueMs ?? Number.NaN)}, faults ${m((s) => s.answered.minorFaults ?? Number.NaN)}, cpu ${m((s) => s.answered.cpuMs ?? Number.NaN)}, gc ${m((s) => s.answered.gcMs ?? Number.NaN)} ms`);
    }
  }
  console.log(`\nmedians per variant and gap (ms; faults a count):\n${summary.join('\n')}`);
  return 0;
}

runBench('idleAdd', main, () => removeNamespaces('sluice'));
