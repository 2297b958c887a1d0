// bench/compileSame: does this build compile and diff the benchmark's policies exactly as
// another build does? For work on compile speed, whose output must not change. Each
// policy (bench/fixtures' 10,000 containers: flat, in 100 groups, in 100 groups nested
// three deep, each IPv4-only and dual-stack; per-device; matched by address) is compiled,
// recompiled against itself, and diffed from nothing, converged and from the next
// policy's state, by each build in a child (bench/compileSameChild.js); the digests of
// their exact forms must be equal.
//   npx tsx bench/compileSame.ts <other dist/> [this dist/, default ./dist]
// The other build: `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci`, or a
// copy of dist/ built before the change, next to a node_modules.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Policy } from '../src/policy/model';
import { syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'compileSame',
  usage: `bench/compileSame: does this build compile and diff the benchmark's policies exactly as another build does (digests compared)
  npx tsx bench/compileSame.ts <other dist/> [this dist/]   (CPU only, no lock)
  other dist/  the build to compare with (required)
  this dist/   this build (./dist)
  --help       this text`,
  positionals: { max: 2, pattern: /^[^-]/ },
});

const SIZE = 10_000;

/** The fixture's groups, each from the 10th on under an earlier one: g10–g29 under g0–g9, g30… under g10–g29 (depth 3). */
function nested(policy: Policy): Policy {
  const parentOf = (i: number): string | undefined => (i < 10 ? undefined : i < 30 ? `g${i % 10}` : `g${10 + (i % 20)}`);
  return { ...policy, groups: policy.groups.map((g, i) => (parentOf(i) === undefined ? g : { ...g, parent: parentOf(i)! })) };
}

const policies: Record<string, Policy> = {
  flat: syntheticPolicyDirect(SIZE),
  groups100: syntheticPolicyDirect(SIZE, { groups: 100 }),
  nested100: nested(syntheticPolicyDirect(SIZE, { groups: 100 })),
  dualFlat: syntheticPolicyDirect(SIZE, { dualStack: true }),
  dualGroups100: syntheticPolicyDirect(SIZE, { dualStack: true, groups: 100 }),
  dualNested100: nested(syntheticPolicyDirect(SIZE, { dualStack: true, groups: 100 })),
  perDevice: syntheticPolicyDirect(1000, { mode: 'per-device' }),
  byAddress: syntheticPolicyDirect(1000, { match: 'ip', groups: 7 }),
};

function digests(root: string, files: readonly string[]): string {
  return execFileSync(process.execPath, [path.join(__dirname, 'compileSameChild.js'), path.resolve(root), ...files], { encoding: 'utf8', maxBuffer: 1 << 26 });
}

{
  const [other, mine = path.join(__dirname, '..', 'dist')] = process.argv.slice(2);
  if (other === undefined) throw new Error('usage: npx tsx bench/compileSame.ts <other dist/> [this dist/]');
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-same-'));
  try {
    const files = Object.entries(policies).map(([name, policy]) => {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(policy));
      return file;
    });
    const before = digests(other, files).trim().split('\n');
    const after = digests(mine, files).trim().split('\n');
    const differing = after.filter((line, i) => line !== before[i]);
    after.forEach((line, i) => console.log(`${line === before[i] ? 'same' : 'DIFFERENT'}  ${line}${line === before[i] ? '' : `  (other: ${before[i]})`}`));
    console.log(differing.length === 0 && before.length === after.length ? `identical: ${after.length} results` : `${differing.length} of ${after.length} results differ`);
    if (differing.length > 0 || before.length !== after.length) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
