// The measuring child of bench/compile.ts, one size per process so peak RSS is that
// size's alone. Plain JavaScript so that one script serves both modes: the sources
// (run under tsx, which resolves the .ts modules) and dist/ (under plain node, as
// bin/sluice.js runs). Arguments: the root to load (src or dist) and the policy as JSON.
const [root, policyFile] = process.argv.slice(2);
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);

const policy = JSON.parse(require('node:fs').readFileSync(policyFile, 'utf8'));
// Collected before timing, so the policy is in the old generation as it is in `apply`
// (validating 10,000 containers' YAML takes seconds) and in `serve` (a loaded policy):
// promoting a still-young policy cost the timed compile 25–35 ms nobody pays outside.
global.gc();
const baseRss = process.memoryUsage().rss / 2 ** 20;
// Page faults (pages touched for the first time: ~13 µs each on the Firecracker VM) and
// the main thread's own CPU time (schedstat, which waiting for a CPU does not count; the
// garbage collector's helper threads and TurboFan are not in it), over compile + diff.
const faults = () => process.resourceUsage().minorPageFault;
const threadCpuMs = () => {
  try {
    return Number(require('node:fs').readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};
const f0 = faults();
const cpu0 = threadCpuMs();
const t0 = performance.now();
const compiled = compilePolicy(policy);
const t1 = performance.now();
const fresh = diff(compiled.state, emptyKernelState());
const t2 = performance.now();
const compileAndDiffFaults = faults() - f0;
const compileAndDiffThreadCpuMs = threadCpuMs() - cpu0;
const recompiled = compilePolicy(policy, { observed: compiled.state });
const converged = diff(recompiled.state, compiled.state);
const t3 = performance.now();
const rssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(
  `${JSON.stringify({ objects: fresh.length, compileMs: t1 - t0, diffFromEmptyMs: t2 - t1, compileAndDiffTotalMs: t2 - t0, compileAndDiffFaults, compileAndDiffThreadCpuMs, recompileWithObservedAndNoopDiffMs: t3 - t2, noopOps: converged.length, rssMb, baseRss })}\n`,
);
