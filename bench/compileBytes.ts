// bench/compileBytes: the bytes compile + the first diff of bench/compile's policy allocate,
// garbage included, counted exactly, for one or more builds side by side: each compiled in
// a child whose young generation never fills (no GC: heap used + array buffers after,
// minus before, is everything allocated), single-threaded so that TurboFan's timing, and
// with it which calls run unoptimised (and box their numbers), is the same on every run.
// Also the bytes of each part: the observed inputs, the shape tree, the plumbing, the
// shared trees (and the grouped layout within them), the plan from nothing. Bytes, not time: a page first touched costs ~10 µs here, and the time is noisy.
//   npx tsx bench/compileBytes.ts [--groups N] [--size N] [--dist DIR]...
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'compileBytes',
  usage: `bench/compileBytes: the bytes compile + the first diff allocate (garbage included), per build
  npx tsx bench/compileBytes.ts [options]   (CPU only, no lock)
  --groups N  the containers in N groups (0: flat, the default)
  --size N    containers (10000)
  --dist DIR  a build to measure (./dist); repeat for several, side by side
  --help      this text`,
  valued: ['--groups', '--size', '--dist'],
});

const args = process.argv.slice(2);
const option = (name: string, otherwise: string): string => {
  const at = args.indexOf(name);
  return at < 0 ? otherwise : args[at + 1]!;
};
const dists = args.flatMap((a, i) => (a === '--dist' ? [path.resolve(args[i + 1]!)] : []));

{
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bytes-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(Number(option('--size', '10000')), { groups: Number(option('--groups', '0')) })));
    for (const root of dists.length > 0 ? dists : [path.join(__dirname, '..', 'dist')]) {
      const flags = ['--expose-gc', '--single-threaded', '--min-semi-space-size=1024', '--max-semi-space-size=1024'];
      process.stdout.write(`${root}: ` + execFileSync(process.execPath, [...flags, path.join(__dirname, 'compileBytesChild.js'), root, policyFile], { encoding: 'utf8' }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
