// bench/ownership: what ownership by record costs at 1,000 and 10,000 managed containers,
// without the kernel: the record's size, writing it ahead of a full apply (synced),
// reading it cold, deriving its key set, splitting an observation by it, settling it.
// Run: npx tsx bench/ownership.ts [--runs N]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOwnershipStore } from '../src/ports/ownership';
import { createdObjects, Ownership } from '../src/apply/ownership';
import { recordAhead, recordedOwnership, recordSettled } from '../src/apply/record';
import { compilePolicy } from '../src/compile';
import type { Plan } from '../src/tc/operation';
import { type KernelObject, type KernelState, type ObservedState } from '../src/tc/model';
import { objectKey } from '../src/tc/identity';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'ownership',
  usage: `bench/ownership: what ownership by record costs at 1,000 and 10,000 managed containers, without the kernel
  npx tsx bench/ownership.ts [--runs N]   (no kernel, no lock)
  --runs N  runs per figure (5)
  --help    this text`,
  valued: ['--runs'],
});

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const all = (s: KernelState): KernelObject[] => [...s.namespaces, ...s.links, ...s.addresses, ...s.routes, ...s.qdiscs, ...s.classes, ...s.filters, ...s.cgroups];

async function time<T>(f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-own-'));
  try {
    console.log(`bench/ownership: median of ${RUNS} runs`);
    for (const n of [1000, 10000]) {
      const policy = syntheticPolicyDirect(n, { match: 'managed', hostNetns: 'sl-ob-host', namespacePrefix: 'sl-ob-c' });
      const state = compilePolicy(policy).state;
      const objects = all(state);
      const plan: Plan = objects.map((object) => ({ op: 'create', object }));
      const keys = new Set(objects.map(objectKey));
      const observed: ObservedState = { ...state, stats: new Map() };
      const base = { host: `own-${n}`, hostNetns: policy.host.netns, external: [], transient: new Set<string>() };
      const figures = { ahead: [] as number[], write: [] as number[], read: [] as number[], derive: [] as number[], view: [] as number[], settle: [] as number[] };
      let bytes = 0;
      for (let r = 0; r < RUNS; r++) {
        const store = new FileOwnershipStore(join(dir, `${n}-${r}`));
        const ahead = await time(() => recordAhead(undefined, base, createdObjects(plan)));
        figures.ahead.push(ahead.ms);
        figures.write.push((await time(() => store.write(ahead.value))).ms);
        const cold = new FileOwnershipStore(join(dir, `${n}-${r}`));
        const read = await time(() => cold.read(base.host));
        figures.read.push(read.ms);
        bytes = JSON.stringify(read.value).length;
        const derived = await time(() => recordedOwnership(read.value));
        figures.derive.push(derived.ms);
        figures.view.push((await time(() => new Ownership(derived.value).view(observed, keys))).ms);
        figures.settle.push((await time(() => recordSettled(read.value!, base, keys))).ms);
      }
      const f = (xs: number[]): string => `${median(xs).toFixed(1)} ms`;
      console.log(
        `  ${n} containers, ${objects.length} objects, record ${(bytes / 1024).toFixed(0)} KiB: ahead of a full apply ${f(figures.ahead)}, write+fsync ${f(figures.write)}, ` +
          `cold read ${f(figures.read)}, key set ${f(figures.derive)}, split of a full observation ${f(figures.view)}, settle ${f(figures.settle)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
