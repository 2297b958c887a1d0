// bench/compile: compile + diff time and peak memory for 1,000 and 10,000 containers.
// Each size runs in its own process so peak RSS is that size's alone.
//   npx tsx bench/compile.ts            the sources, under tsx (its loader is ~90 MB of RSS)
//   npx tsx bench/compile.ts --built    dist/ (npm run prepare) under plain node, as bin/sluice.js runs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compilePolicy } from '../src/compile';
import { diff } from '../src/plan/diff';
import { emptyKernelState } from '../src/tc/model';
import { syntheticPolicy, syntheticPolicyDirect } from './fixtures';

const SIZES = [1000, 10000];
const TARGET_MS = 300;
const TARGET_MB = 200;

function measure(n: number): void {
  global.gc?.();
  const baseRss = process.memoryUsage().rss / 2 ** 20;
  const policy = syntheticPolicyDirect(n);
  const t0 = performance.now();
  const compiled = compilePolicy(policy);
  const t1 = performance.now();
  const fresh = diff(compiled.state, emptyKernelState());
  const t2 = performance.now();
  const recompiled = compilePolicy(policy, { observed: compiled.state });
  const converged = diff(recompiled.state, compiled.state);
  const t3 = performance.now();
  const rssMb = process.resourceUsage().maxRSS / 1024;
  // Validation of the same policy as YAML, last so its garbage does not count above.
  const tp = performance.now();
  syntheticPolicy(n);
  const parseMs = performance.now() - tp;
  const objects = fresh.length;
  process.stdout.write(
    JSON.stringify({ n, objects, compileMs: t1 - t0, diffFromEmptyMs: t2 - t1, compileAndDiffTotalMs: t2 - t0, recompileWithObservedAndNoopDiffMs: t3 - t2, noopOps: converged.length, rssMb, baseRss, parseMs }) + '\n',
  );
}

/**
 * measure() for --built, in plain JavaScript against dist/: the same steps in the same
 * order (the policy, as JSON, is read after the base RSS, as measure() builds it), minus
 * validating the YAML. Keep the two in step.
 */
const BUILT_CHILD = `
const [dist, policyFile] = process.argv.slice(1);
const { compilePolicy } = require(dist + '/compile');
const { diff } = require(dist + '/plan/diff');
const { emptyKernelState } = require(dist + '/tc/model');
global.gc();
const baseRss = process.memoryUsage().rss / 2 ** 20;
const policy = JSON.parse(require('node:fs').readFileSync(policyFile, 'utf8'));
const t0 = performance.now();
const compiled = compilePolicy(policy);
const t1 = performance.now();
const fresh = diff(compiled.state, emptyKernelState());
const t2 = performance.now();
const recompiled = compilePolicy(policy, { observed: compiled.state });
const converged = diff(recompiled.state, compiled.state);
const t3 = performance.now();
const rssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ n: policy.containers.length, objects: fresh.length, compileMs: t1 - t0, diffFromEmptyMs: t2 - t1, compileAndDiffTotalMs: t2 - t0, recompileWithObservedAndNoopDiffMs: t3 - t2, noopOps: converged.length, rssMb, baseRss }) + '\\n');
`;

/** One size's figures from a child process: the sources under tsx, or dist/ under plain node. */
function runSize(n: number, built: boolean): Record<string, number> {
  if (!built) return lastJsonLine(execFileSync(process.execPath, ['--expose-gc', ...process.execArgv, __filename, '--one', String(n)], { encoding: 'utf8' }));
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(n)));
    const dist = path.resolve(__dirname, '..', 'dist');
    return lastJsonLine(execFileSync(process.execPath, ['--expose-gc', '-e', BUILT_CHILD, dist, policyFile], { encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lastJsonLine = (out: string): Record<string, number> => JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;

if (process.argv[2] === '--one') {
  measure(Number(process.argv[3]));
} else {
  const built = process.argv.includes('--built');
  const what = built ? 'dist/ under plain node' : 'sources under tsx';
  console.log(`bench/compile (${what}): ${SIZES.join(', ')} containers (both directions), target < ${TARGET_MS} ms and < ${TARGET_MB} MB at 10,000`);
  for (const n of SIZES) {
    const r = runSize(n, built);
    const f = (x: number) => x.toFixed(1);
    console.log(
      `${String(n).padStart(6)} containers: ${r.objects} objects; compile ${f(r.compileMs!)} ms + diff ${f(r.diffFromEmptyMs!)} ms = ${f(r.compileAndDiffTotalMs!)} ms; ` +
        `recompile against observed + no-op diff ${f(r.recompileWithObservedAndNoopDiffMs!)} ms (${r.noopOps} ops); peak RSS ${f(r.rssMb!)} MB (${f(r.baseRss!)} MB before compile)` +
        (r.parseMs !== undefined ? `; validating the YAML: ${f(r.parseMs)} ms` : ''),
    );
  }
}
