// bench/freshPlan: the plan from nothing (diff(state, emptyKernelState()), fresh.ts) alone,
// side by side with another build: bytes allocated (garbage included), bytes the plan
// keeps alive, page faults and the main thread's CPU time of the call, each in a process
// of its own after a compile of bench/compile's policy. Bytes and faults are nearly
// deterministic; the CPU time is one cold call's (run it under the kernel lock).
//   npx tsx bench/freshPlan.ts [--groups N] [--size N] [--runs N] [--dist DIR]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'freshPlan',
  usage: `bench/freshPlan: the plan from nothing alone, this build's dist/ beside another's
  npx tsx bench/freshPlan.ts [options]   (CPU only, no lock)
  --groups N  the containers in N groups (100)
  --size N    containers (10000)
  --runs N    processes per figure and build (3; the median is printed)
  --dist DIR  the build to compare with (required)
  --help      this text`,
  valued: ['--groups', '--size', '--runs', '--dist'],
});

const option = (name: string, otherwise: string): string => {
  const at = process.argv.indexOf(name);
  return at < 0 ? otherwise : process.argv[at + 1]!;
};

type Figures = { allocated: number; alive: number; faults: number; cpuMs: number };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function child(root: string, policyFile: string, mode: string): Record<string, number> {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'freshPlanChild.js'), root, policyFile, mode], { encoding: 'utf8' });
  return JSON.parse(out) as Record<string, number>;
}

function measure(root: string, policyFile: string, runs: number): Figures {
  const of = (mode: string, key: string): number => median(Array.from({ length: runs }, () => child(root, policyFile, mode)[key]!));
  const faults = Array.from({ length: runs }, () => child(root, policyFile, 'faults'));
  return { allocated: of('allocated', 'allocated'), alive: of('alive', 'alive'), faults: median(faults.map((f) => f.faults!)), cpuMs: median(faults.map((f) => f.cpuMs!)) };
}

const given = option('--dist', '');
if (given === '') {
  console.error('bench/freshPlan: --dist DIR is required (the build to compare with, e.g. a worktree of main with `npx tsc -p tsconfig.build.json` run in it); --help for more');
  process.exit(2);
}

{
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-freshplan-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(Number(option('--size', '10000')), { groups: Number(option('--groups', '100')) })));
    const runs = Number(option('--runs', '3'));
    const other = path.resolve(given);
    const mine = path.resolve(__dirname, '..', 'dist');
    const mb = (x: number): string => (x / 2 ** 20).toFixed(2).padStart(8);
    console.log('build'.padEnd(40), 'alloc MB', 'alive MB', '  faults', '  CPU ms');
    for (const root of [other, mine]) {
      const f = measure(root, policyFile, runs);
      console.log(root.padEnd(40), mb(f.allocated), mb(f.alive), String(f.faults).padStart(8), f.cpuMs.toFixed(1).padStart(8));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
