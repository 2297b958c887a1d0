// bench/compile: compile + diff time and peak memory for 1,000 and 10,000 containers.
// Each run is its own process so peak RSS is that size's alone; each size runs several
// times and prints the median with the range, since one run on a shared VM varies ±20%.
//   npx tsx bench/compile.ts            the sources, under tsx (its loader is ~90 MB of RSS)
//   npx tsx bench/compile.ts --built    dist/ (npm run prepare) under plain node, as bin/sluice.js runs
//   --runs N                            runs per size (default 5)
//   --dual-stack                        the Host has an IPv6 prefix: every container also has an IPv6 address and filter
//   --groups N                          also the same containers in N groups, each run alternating with the flat policy
//   --dist DIR                          with --built: also another build's dist/ (e.g. main's worktree), each run alternating with this one
//   --cold-only                         the cold figure alone (no YAML-loading child)
// Three figures per policy, one build: cold (the policy from JSON, collected, then
// compile + diff in a young heap: what issue #22 is judged on); as `apply` meets it (a
// child reads and validates the same policy's YAML files with the real loader, then
// compiles + diffs at once); as `serve` meets a change (in the cold child, after it: the
// same policy, then one with a container changed, each compiled against the last compiled
// state as observed and planned against it, as Applier.applyChange does, that state
// indexed first, timed apart, as serve indexes a base once the change making it is
// answered; then a change against the state the changed one left, and against a copy of
// it, not indexed).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syntheticPolicy, syntheticPolicyDirect } from './fixtures';
import { syntheticPolicyFiles } from './compileYaml';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'compile',
  usage: `bench/compile: compile + diff time and peak memory for 1,000 and 10,000 containers (median of several runs, each its own process)
  npx tsx bench/compile.ts [options]   (CPU only, no lock)
  --built       dist/ (npm run prepare) under plain node, as bin/sluice.js runs (default: the sources under tsx)
  --runs N      runs per size (5)
  --dual-stack  the Host has an IPv6 prefix: every container also has an IPv6 address and filter
  --groups N    also the same containers in N groups, each run alternating with the flat policy (0: flat only)
  --dist DIR    with --built: also another build's dist/ (e.g. a worktree of main), each run alternating with this one
  --cold-only   the cold figure alone, without the child that loads the policy's YAML first (as apply does)
  --help        this text`,
  switches: ['--built', '--dual-stack', '--cold-only'],
  valued: ['--runs', '--groups', '--dist'],
});

const SIZES = [1000, 10000];
const TARGET_MS = 300;
const TARGET_MB = 200;

/**
 * One size's figures from bench/compileChild.js: the sources under tsx, or dist/ under
 * plain node. The cold child (with the warm, serve-like compiles after it) and, unless
 * coldOnly, the child that loads the same policy's YAML first, merged into one record.
 */
function runSize(n: number, built: boolean, dualStack: boolean, groups: number, coldOnly: boolean, dist = path.resolve(__dirname, '..', 'dist')): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  try {
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(syntheticPolicyDirect(n, { dualStack, groups })));
    const root = built ? dist : path.resolve(__dirname, '..', 'src');
    const loader = built ? [] : process.execArgv;
    const child = (...args: string[]): Record<string, number> =>
      lastJsonLine(execFileSync(process.execPath, ['--expose-gc', ...loader, path.join(__dirname, 'compileChild.js'), root, ...args], { encoding: 'utf8' }));
    const cold = child(policyFile, 'cold');
    if (coldOnly) return cold;
    const yamlDir = path.join(dir, 'yaml');
    mkdirSync(yamlDir);
    for (const [name, text] of syntheticPolicyFiles(n, { dualStack, groups })) writeFileSync(path.join(yamlDir, name), text);
    const applied = child(yamlDir, 'apply');
    if (applied.objects !== cold.objects) throw new Error(`the YAML policy compiled to ${applied.objects} objects, the JSON one to ${cold.objects}: bench/compileYaml no longer writes the same policy`);
    return { ...cold, ...applied };
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

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** "median (min–max)" of one figure over the runs. */
function spread(runs: readonly Record<string, number>[], key: string): string {
  const xs = runs.map((r) => r[key]!);
  return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
}

function runsOption(): number {
  const at = process.argv.indexOf('--runs');
  const n = at < 0 ? 5 : Number(process.argv[at + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--runs takes a whole number of runs per size, at least 1 (got ${process.argv[at + 1]})`);
  return n;
}

function optionText(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
}

function optionValue(name: string): number {
  const at = process.argv.indexOf(name);
  return at < 0 ? 0 : Number(process.argv[at + 1]);
}

{
  const built = process.argv.includes('--built');
  const dualStack = process.argv.includes('--dual-stack');
  const groups = optionValue('--groups');
  const coldOnly = process.argv.includes('--cold-only');
  const runCount = runsOption();
  const what = `${built ? 'dist/ under plain node' : 'sources under tsx'}${dualStack ? ', dual-stack' : ''}`;
  console.log(`bench/compile (${what}): ${SIZES.join(', ')} containers (both directions), ${runCount} runs each, median (min–max); target < ${TARGET_MS} ms and < ${TARGET_MB} MB at 10,000`);
  // With --groups, the flat policy and the grouped one alternate, run by run; with --dist,
  // this build and the other one too.
  const other = optionText('--dist');
  if (other !== undefined && !built) throw new Error('--dist compares built code: add --built');
  const builds = other === undefined ? [{ label: '', dist: undefined }] : [{ label: 'this build: ', dist: undefined }, { label: `${other}: `, dist: path.resolve(other) }];
  const variants = (groups > 0 ? [0, groups] : [0]).flatMap((g) => builds.map((b) => ({ g, ...b })));
  for (const n of SIZES) {
    const runs = variants.map(() => [] as Record<string, number>[]);
    for (let i = 0; i < runCount; i++) variants.forEach(({ g, dist }, v) => runs[v]!.push(runSize(n, built, dualStack, g, coldOnly, dist)));
    variants.forEach(({ g, label }, v) => {
      const r = runs[v]![0]!;
      const peak = Math.max(...runs[v]!.map((x) => x.rssMb!));
      console.log(
        `${label}${String(n).padStart(6)} containers${g > 0 ? ` in ${g} groups` : groups > 0 ? ', no groups' : ''}: ${r.objects} objects; compile ${spread(runs[v]!, 'compileMs')} ms + diff ${spread(runs[v]!, 'diffFromEmptyMs')} ms = ${spread(runs[v]!, 'compileAndDiffTotalMs')} ms ` +
          `(page faults ${spread(runs[v]!, 'compileAndDiffFaults')}, main thread's CPU ${spread(runs[v]!, 'compileAndDiffThreadCpuMs')} ms); ` +
          `recompile against observed + no-op diff ${spread(runs[v]!, 'recompileWithObservedAndNoopDiffMs')} ms (${r.noopOps} ops); peak RSS ${peak.toFixed(1)} MB (${r.baseRss!.toFixed(1)} MB with the policy loaded, before compile)` +
          (built || g > 0 ? '' : `; validating the YAML: ${validationMs(n).toFixed(1)} ms`),
      );
      console.log(
        `${' '.repeat(label.length)}  as serve meets a change (same process, compiled against the last state and planned against it): the same policy ${spread(runs[v]!, 'warmSameMs')} ms (${r.warmSameOps} ops; faults ${spread(runs[v]!, 'warmSameFaults')}, CPU ${spread(runs[v]!, 'warmSameThreadCpuMs')} ms); ` +
          `one container changed ${spread(runs[v]!, 'warmChangedMs')} ms (${r.warmChangedOps} ops; faults ${spread(runs[v]!, 'warmChangedFaults')}, CPU ${spread(runs[v]!, 'warmChangedThreadCpuMs')} ms); ` +
          `peak RSS then ${Math.max(...runs[v]!.map((x) => x.warmRssMb!)).toFixed(1)} MB (the last state alive beside the next); ` +
          `the last state indexed before, after the answer that made it, ${spread(runs[v]!, 'baseIndexMs')} ms (faults ${spread(runs[v]!, 'baseIndexFaults')}; 0: a build that indexes it in each change); ` +
          `the next change (back to the policy) against the state the changed one left, indexed after its answer in ${spread(runs[v]!, 'chainedIndexMs')} ms: ${spread(runs[v]!, 'chainedMs')} ms (${r.chainedOps} ops); ` +
          `the same against a copy of that state, not indexed yet (a change that comes while serve still indexes the state the last change or tick left) ${spread(runs[v]!, 'unindexedChangedMs')} ms, peak RSS then ${Math.max(...runs[v]!.map((x) => x.unindexedRssMb!)).toFixed(1)} MB`,
      );
      if (!coldOnly) {
        console.log(
          `${' '.repeat(label.length)}  as apply meets it (YAML files through the real loader, ${spread(runs[v]!, 'loadMs')} ms, then at once): compile + diff ${spread(runs[v]!, 'applyCompileAndDiffMs')} ms (faults ${spread(runs[v]!, 'applyFaults')}, CPU ${spread(runs[v]!, 'applyThreadCpuMs')} ms)`,
        );
      }
    });
  }
}
