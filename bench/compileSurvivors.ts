// bench/compileSurvivors: what compile + the first diff of bench/compile's policy keep
// alive (heap snapshots before and after, objects new in the second, bytes by shape: a
// plain object is named by its properties) and how much they allocate in all (sampling
// heap profiler, collected objects counted). For work on what the garbage collector
// copies and on pages touched for the first time.
//   npx tsx bench/compileSurvivors.ts [--groups N] [--size N] [--top N] [--dist DIR]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'compileSurvivors',
  usage: `bench/compileSurvivors: what compile + the first diff keep alive (by shape) and allocate in all, on a built dist/
  npx tsx bench/compileSurvivors.ts [options]   (CPU only, no lock)
  --groups N  the containers in N groups (0: flat, the default)
  --size N    containers (10000)
  --top N     rows to print (25)
  --dist DIR  the build to measure (./dist)
  --help      this text`,
  valued: ['--groups', '--size', '--top', '--dist'],
});

const option = (name: string, otherwise: string): string => {
  const at = process.argv.indexOf(name);
  return at < 0 ? otherwise : process.argv[at + 1]!;
};

{
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-survivors-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(Number(option('--size', '10000')), { groups: Number(option('--groups', '0')) })));
    const root = path.resolve(option('--dist', path.join(__dirname, '..', 'dist')));
    for (const mode of ['allocated', 'alive']) {
      process.stdout.write(execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', path.join(__dirname, 'compileSurvivorsChild.js'), mode, root, policyFile, dir, option('--top', '25')], { encoding: 'utf8', maxBuffer: 1 << 24 }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
