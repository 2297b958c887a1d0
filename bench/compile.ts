// bench/compile: compile + diff time and peak memory for 1,000 and 10,000 containers.
// Each size runs in its own process so peak RSS is that size's alone.
//   npx tsx bench/compile.ts            the sources, under tsx (its loader is ~90 MB of RSS)
//   npx tsx bench/compile.ts --built    dist/ (npm run prepare) under plain node, as bin/sluice.js runs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicy, syntheticPolicyDirect } from './fixtures';

const SIZES = [1000, 10000];
const TARGET_MS = 300;
const TARGET_MB = 200;

/** One size's figures from bench/compileChild.js: the sources under tsx, or dist/ under plain node. */
function runSize(n: number, built: boolean): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(n)));
    const root = path.resolve(__dirname, '..', built ? 'dist' : 'src');
    const loader = built ? [] : process.execArgv;
    return lastJsonLine(execFileSync(process.execPath, ['--expose-gc', ...loader, path.join(__dirname, 'compileChild.js'), root, policyFile], { encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Validating the same policy as YAML (schema, admission), for scale; not part of the target. */
function validationMs(n: number): number {
  const t = performance.now();
  syntheticPolicy(n);
  return performance.now() - t;
}

const lastJsonLine = (out: string): Record<string, number> => JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;

{
  const built = process.argv.includes('--built');
  const what = built ? 'dist/ under plain node' : 'sources under tsx';
  console.log(`bench/compile (${what}): ${SIZES.join(', ')} containers (both directions), target < ${TARGET_MS} ms and < ${TARGET_MB} MB at 10,000`);
  for (const n of SIZES) {
    const r = runSize(n, built);
    const f = (x: number) => x.toFixed(1);
    console.log(
      `${String(n).padStart(6)} containers: ${r.objects} objects; compile ${f(r.compileMs!)} ms + diff ${f(r.diffFromEmptyMs!)} ms = ${f(r.compileAndDiffTotalMs!)} ms; ` +
        `recompile against observed + no-op diff ${f(r.recompileWithObservedAndNoopDiffMs!)} ms (${r.noopOps} ops); peak RSS ${f(r.rssMb!)} MB (${f(r.baseRss!)} MB with the policy loaded, before compile)` +
        (built ? '' : `; validating the YAML: ${f(validationMs(n))} ms`),
    );
  }
}
