// bench/kernel: the HTB classes + filters of N containers, both directions (the bridge's
// download tree and the IFB's upload tree), built in one namespace by Sluice's netlink
// port, and side by side in the same run by `tc -batch` of the identical objects, by
// `tc -batch` of the common flat u32 list, and by one `tc` process per object; then the
// dump of all classes with statistics against `tc -s class show`.
// Run as root: npx tsx bench/kernel.ts [N...]   (default 1000 4000)

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { compilePolicy } from '../src/compile';
import { createNetns, deleteNetns, listNetns } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { RTM } from '../src/kernel/rtnl/constants';
import { tcmsg } from '../src/kernel/rtnl/messages';
import { diff } from '../src/plan/diff';
import { emptyKernelState, type FilterObject, type KernelState } from '../src/tc/model';
import { syntheticPolicyDirect } from './fixtures';
import { tcCommand } from './tcBatch';

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

async function benchSize(n: number, kernel: RtnlKernel): Promise<void> {
  const names = { nl: `sl-kb-nl${n}`, tc: `sl-kb-tc${n}`, flat: `sl-kb-fl${n}`, each: `sl-kb-ea${n}` };
  for (const ns of Object.values(names)) prepare(ns);
  const compiled = compilePolicy(syntheticPolicyDirect(n, { match: 'ip', hostNetns: names.nl, capacity: 10e9 }));
  const state = { ...emptyKernelState(), qdiscs: compiled.state.qdiscs, classes: compiled.state.classes, filters: compiled.state.filters };
  // The planner's order (parents first) serves both Sluice and the tc batch files.
  const plan = diff(state, emptyKernelState());
  const objects = plan.map((op) => op.object);

  const nlMs = await timeMsAsync(async () => {
    const r = await kernel.execute(plan);
    if (r.failed) throw r.failed.error;
  });
  const batchFile = `/tmp/sl-kb-${n}.batch`;
  writeFileSync(batchFile, objects.map(tcCommand).filter((c): c is string => c !== undefined).join('\n') + '\n');
  const tcMs = timeMs(() => execFileSync('tc', ['-n', names.tc, '-batch', batchFile]));
  const flatFile = `/tmp/sl-kb-flat-${n}.batch`;
  const flat = objects.filter((o) => o.type !== 'filter').map(tcCommand).filter((c): c is string => c !== undefined).concat(flatFilters(state).map(flatCommand));
  writeFileSync(flatFile, flat.join('\n') + '\n');
  const flatMs = timeMs(() => execFileSync('tc', ['-n', names.flat, '-batch', flatFile]));
  let eachMs: number | undefined;
  if (n <= PER_OBJECT_MAX) {
    const lines = objects.map(tcCommand).filter((c): c is string => c !== undefined);
    eachMs = timeMs(() => {
      for (const line of lines) execFileSync('tc', ['-n', names.each, ...line.split(/\s+/).filter(Boolean)]);
    });
  }
  const observeMs = await timeMsAsync(() => kernel.observe({ netns: [names.nl], withStats: true }));
  const session = await kernel.session(names.nl);
  const links = await session.linkList();
  const classDumpMs = await timeMsAsync(async () => {
    for (const dev of ['sl-br0', 'sl-ifb0']) await session.dump(RTM.GETTCLASS, tcmsg({ ifindex: links.find((l) => l.name === dev)!.index, handle: 0, parent: 0, info: 0 }));
  });
  const tcShowMs = timeMs(() => {
    for (const dev of ['sl-br0', 'sl-ifb0']) execFileSync('tc', ['-n', names.tc, '-s', 'class', 'show', 'dev', dev], { maxBuffer: 1 << 28 });
  });
  const f = (x: number): string => x.toFixed(0);
  console.log(
    `${n} containers (${objects.length} tc objects, 2 trees):\n` +
      `  build  sluice netlink ${f(nlMs)} ms | tc -batch same objects ${f(tcMs)} ms (sluice ${(tcMs / nlMs).toFixed(2)}x faster) | ` +
      `tc -batch flat u32 list ${f(flatMs)} ms (sluice ${(flatMs / nlMs).toFixed(2)}x faster)` +
      (eachMs !== undefined ? ` | one tc per object ${f(eachMs)} ms (sluice ${(eachMs / nlMs).toFixed(1)}x faster)` : ' | one tc per object: skipped above 1000') +
      `\n  dump   ${state.classes.length} classes with stats: sluice class dump ${f(classDumpMs)} ms vs tc -s class show ${f(tcShowMs)} ms (ratio ${(classDumpMs / tcShowMs).toFixed(2)}); ` +
      `full observe (links, addresses, qdiscs, classes, filters, stats) ${f(observeMs)} ms`,
  );
  for (const ns of Object.values(names)) {
    kernel.forget(ns);
    deleteNetns(ns);
  }
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
