// bench/kernel: the HTB classes + filters of N containers, both directions (the bridge's
// download tree and the IFB's upload tree), built in one namespace by Sluice's netlink
// port, and side by side in the same run by `tc -batch` of the identical objects, by
// `tc -batch` of the common flat u32 list, by one `tc` process per object, and the floor
// (the HTB qdiscs and classes alone); then the dump of all classes with statistics
// against `tc -s class show`. Each build runs alone on the machine (see benchSize).
// Run as root: npx tsx bench/kernel.ts [N...]   (default 1000 4000)

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { compilePolicy } from '../src/compile';
import { createNetns, deleteNetns, listNetns } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { RTM } from '../src/kernel/rtnl/constants';
import { tcmsg } from '../src/kernel/rtnl/messages';
import { diff } from '../src/plan/diff';
import { emptyKernelState, type FilterObject, type KernelObject, type KernelState } from '../src/tc/model';
import type { Operation, Plan } from '../src/tc/operation';
import { syntheticPolicyDirect } from './fixtures';
import { tcCommand } from './tcBatch';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'kernel',
  usage: `bench/kernel: the HTB classes and filters of N containers built by Sluice's netlink port, beside tc -batch and one tc per object; then the class dump against tc -s
  flock /run/sluice-dev.lock npx tsx bench/kernel.ts [N...]   (root; builds namespaces: under the lock)
  N...    container counts (1000 4000)
  --help  this text`,
  positionals: { max: Infinity, pattern: /^\d+$/ },
});

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(1000, 4000);
/** One process per object takes minutes at 4,000; measured at this size and below only. */
const PER_OBJECT_MAX = 1000;

/** The common hand-written setup: one u32 filter per container at the root, matched in order. */
function flatFilters(s: KernelState): FilterObject[] {
  return s.filters.map((f) => {
    if (f.spec.kind !== 'u32' || f.spec.classid === undefined) return f;
    return { ...f, handle: (0x800 << 20) >>> 0, prio: 20 };
  }).filter((f) => f.spec.kind === 'u32' && (f.spec.classid !== undefined || f.spec.actions !== undefined));
}

function flatCommand(f: FilterObject): string {
  return tcCommand({ ...f, handle: 0x80000000 })!.replace(/ handle 800:0:0 /, ' ');
}

function prepare(ns: string): void {
  createNetns(ns);
  for (const args of [['link', 'add', 'sl-br0', 'type', 'bridge'], ['link', 'add', 'sl-ifb0', 'type', 'ifb'], ['link', 'set', 'sl-br0', 'up'], ['link', 'set', 'sl-ifb0', 'up']]) execFileSync('ip', ['-n', ns, ...args]);
}

function timeMs(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function timeMsAsync(f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** One way of building the trees into a fresh namespace; resolves with the milliseconds it took. */
interface Builder {
  readonly label: string;
  build(ns: string): Promise<number>;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The plan's operations moved into `ns` (the plan was compiled for another namespace name). */
const into = (plan: Plan, ns: string): Plan => plan.map((op) => ({ ...op, object: { ...op.object, netns: ns } }) as Operation);

/**
 * The kernel's cost of a new class grows with the classes that exist anywhere on the
 * machine, not only in its own qdisc (measured: the same 8,000 classes took 2.3, 3.3, 4.9
 * and 11.0 s in four namespaces one after another). So each build here runs alone: its
 * namespace is deleted before the next one starts, and the builds run in both orders.
 */
async function benchSize(n: number, kernel: RtnlKernel): Promise<void> {
  const compiled = compilePolicy(syntheticPolicyDirect(n, { match: 'ip', hostNetns: 'sl-kb-plan', capacity: 10e9 }));
  const state = { ...emptyKernelState(), qdiscs: compiled.state.qdiscs, classes: compiled.state.classes, filters: compiled.state.filters };
  // The planner's order (parents first) serves both Sluice and the tc batch files.
  const plan = diff(state, emptyKernelState());
  const objects = plan.map((op) => op.object);
  const batchFile = `/tmp/sl-kb-${n}.batch`;
  writeFileSync(batchFile, objects.map(tcCommand).filter((c): c is string => c !== undefined).join('\n') + '\n');
  const flatFile = `/tmp/sl-kb-flat-${n}.batch`;
  writeFileSync(flatFile, objects.filter((o) => o.type !== 'filter').map(tcCommand).filter((c): c is string => c !== undefined).concat(flatFilters(state).map(flatCommand)).join('\n') + '\n');
  // The floor under any builder: the HTB qdiscs and classes alone, which every setup of
  // these trees needs (no leaves, no filters), sent the fastest way known (Sluice's batches).
  const floorPlan = plan.filter((op) => op.object.type === 'class' || (op.object.type === 'qdisc' && op.object.spec.kind === 'htb'));
  const execute = async (ops: Plan): Promise<void> => {
    const r = await kernel.execute(ops);
    if (r.failed) throw r.failed.error;
  };
  const builders: Builder[] = [
    { label: 'sluice', build: (ns) => timeMsAsync(() => execute(into(plan, ns))) },
    { label: 'tc -batch same objects', build: async (ns) => timeMs(() => execFileSync('tc', ['-n', ns, '-batch', batchFile])) },
    { label: 'tc -batch flat u32 list', build: async (ns) => timeMs(() => execFileSync('tc', ['-n', ns, '-batch', flatFile])) },
    { label: 'floor: qdiscs + classes only (sluice)', build: (ns) => timeMsAsync(() => execute(into(floorPlan, ns))) },
  ];
  const times = new Map<string, number[]>(builders.map((b) => [b.label, []]));
  let dump = '';
  for (const order of [builders, [...builders].reverse()]) {
    for (const b of order) {
      const ns = `sl-kb-${n}`;
      prepare(ns);
      times.get(b.label)!.push(await b.build(ns));
      if (b.label === 'sluice' && dump === '') dump = await dumpFigures(kernel, ns, state.classes.length);
      kernel.forget(ns);
      deleteNetns(ns);
      await settle();
    }
  }
  const f = (x: number): string => x.toFixed(0);
  const sl = median(times.get('sluice')!);
  const line = (label: string): string => {
    const t = times.get(label)!;
    return `${label} ${t.map(f).join(' / ')} ms (sluice ${(median(t) / sl).toFixed(2)}x faster)`;
  };
  const floor = median(times.get(builders[3]!.label)!);
  const flat = median(times.get(builders[2]!.label)!);
  console.log(
    `${n} containers (${objects.length} tc objects, 2 trees), each build alone, in one order then the other:\n` +
      `  build  sluice ${times.get('sluice')!.map(f).join(' / ')} ms | ${line(builders[1]!.label)} | ${line(builders[2]!.label)}` +
      (n <= PER_OBJECT_MAX ? ` | one tc per object ${f(await perObject(objects, n))} ms` : ' | one tc per object: skipped above 1000') +
      `\n  floor  the HTB qdiscs and classes alone, sent by sluice: ${times.get(builders[3]!.label)!.map(f).join(' / ')} ms: no builder of these trees is more than ${(flat / floor).toFixed(2)}x faster than the flat list; sluice's leaves and filters add ${f(sl - floor)} ms` +
      `\n  dump   ${dump}`,
  );
}

/** The deleted namespace's objects are freed by a kernel worker after deleteNetns returns. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1000));

async function dumpFigures(kernel: RtnlKernel, ns: string, classes: number): Promise<string> {
  const observeMs = await timeMsAsync(() => kernel.observe({ netns: [ns], withStats: true }));
  const session = await kernel.session(ns);
  const links = await session.linkList();
  const classDumpMs = await timeMsAsync(async () => {
    for (const dev of ['sl-br0', 'sl-ifb0']) await session.dump(RTM.GETTCLASS, tcmsg({ ifindex: links.find((l) => l.name === dev)!.index, handle: 0, parent: 0, info: 0 }));
  });
  const tcShowMs = timeMs(() => {
    for (const dev of ['sl-br0', 'sl-ifb0']) execFileSync('tc', ['-n', ns, '-s', 'class', 'show', 'dev', dev], { maxBuffer: 1 << 28 });
  });
  const f = (x: number): string => x.toFixed(0);
  return `${classes} classes with stats: sluice class dump ${f(classDumpMs)} ms vs tc -s class show ${f(tcShowMs)} ms (ratio ${(classDumpMs / tcShowMs).toFixed(2)}); full observe (links, addresses, qdiscs, classes, filters, stats) ${f(observeMs)} ms`;
}

/** One tc process per object: minutes at 4,000, so measured once, at 1,000 and below. */
async function perObject(objects: readonly KernelObject[], n: number): Promise<number> {
  const ns = `sl-kb-ea${n}`;
  prepare(ns);
  const lines = objects.map(tcCommand).filter((c): c is string => c !== undefined);
  const ms = timeMs(() => {
    for (const line of lines) execFileSync('tc', ['-n', ns, ...line.split(/\s+/).filter(Boolean)]);
  });
  deleteNetns(ns);
  await settle();
  return ms;
}

async function main(): Promise<void> {
  for (const ns of listNetns()) if (ns.startsWith('sl-kb-')) deleteNetns(ns);
  const kernel = new RtnlKernel();
  try {
    // Warm the code paths once so the first size does not pay for JIT compilation.
    await benchSize(50, kernel);
    for (const n of sizes) await benchSize(n, kernel);
  } finally {
    await kernel.close();
    for (const ns of listNetns()) if (ns.startsWith('sl-kb-')) deleteNetns(ns);
  }
}

void main();
