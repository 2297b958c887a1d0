// bench/compilePhases: what each phase of a cold compile of bench/compile's policy
// allocates, exactly, garbage included (the observed inputs, the shape tree, the
// plumbing, the descriptions, the whole compile, compile + the first diff), side by side
// for two builds; and the page faults of compile + diff in a process with V8's defaults.
// Each figure from a process of its own. For work on bytes allocated (issue #22).
//   npx tsx bench/compilePhases.ts [--groups N] [--size N] [--runs N] [--dist DIR] [--base DIR]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'compilePhases',
  usage: `bench/compilePhases: MB allocated by each phase of a cold compile (exact), and page faults, on built dist/s
  npx tsx bench/compilePhases.ts [options]   (CPU only, no lock)
  --groups N  the containers in N groups (0: flat, the default)
  --size N    containers (10000)
  --runs N    processes per figure; the median is printed, then the range (5)
  --dist DIR  the build to measure (./dist)
  --base DIR  a second build to measure beside it (none)
  --help      this text`,
  valued: ['--dist', '--base'],
  numbers: ['--groups', '--size', '--runs'],
});

const option = (name: string, otherwise: string): string => {
  const at = process.argv.indexOf(name);
  return at < 0 ? otherwise : process.argv[at + 1]!;
};

const PHASES = ['observed', 'shape', 'plumbing', 'describe', 'compile', 'compile+diff'] as const;
const child = path.join(__dirname, 'compilePhasesChild.js');

/** One phase in a process of its own: a young generation of 256 MB collects nothing during it (`young`), or V8's defaults. */
function measure(root: string, policyFile: string, phase: string, young: boolean): { allocated: number; faults: number } {
  const flags = young ? ['--min-semi-space-size=256', '--max-semi-space-size=256'] : [];
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', ...flags, child, root, policyFile, phase], { encoding: 'utf8' })) as { allocated: number; faults: number };
}

function spread(values: number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(digits);
  return `${f(sorted[Math.floor(sorted.length / 2)]!)} (${f(sorted[0]!)}–${f(sorted[sorted.length - 1]!)})`;
}

{
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-phases-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(Number(option('--size', '10000')), { groups: Number(option('--groups', '0')) })));
    const runs = Number(option('--runs', '5'));
    const builds = [path.resolve(option('--dist', path.join(__dirname, '..', 'dist'))), ...(process.argv.includes('--base') ? [path.resolve(option('--base', ''))] : [])];
    for (const root of builds) {
      console.log(root);
      for (const phase of PHASES) {
        const mb = Array.from({ length: runs }, () => measure(root, policyFile, phase, true).allocated / 2 ** 20);
        console.log(`  ${phase.padEnd(13)} ${spread(mb, 2)} MB allocated`);
      }
      const faults = Array.from({ length: runs }, () => measure(root, policyFile, 'compile+diff', false).faults);
      console.log(`  compile+diff page faults (V8's defaults) ${spread(faults, 0)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
