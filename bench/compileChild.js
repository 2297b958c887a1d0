// The measuring child of bench/compile.ts, one size per process so peak RSS is that
// size's alone. Plain JavaScript so that one script serves both modes: the sources
// (run under tsx, which resolves the .ts modules) and dist/ (under plain node, as
// bin/sluice.js runs). Arguments: the root to load (src or dist), the policy, and how
// the process comes to the compile:
//   cold   the policy as JSON, collected into the old generation, then compile + diff in a
//          young heap (the figure issue #22 is judged on); then, in the same process, as
//          `serve` meets a change (Applier.applyChange): the same policy and one with a
//          container changed, each compiled against the last compiled state as observed
//          and planned against it (planChange), with that last compile alone still held
//          and indexed first, as serve indexes a base after answering the change that made it;
//          then the next change against the state the changed one left (indexed after its
//          answer), and the same against a copy of that state, not indexed
//   apply  the policy as a directory of YAML files, read and validated by the real loader
//          (seconds at 10,000), then compile + diff at once, as `sluice apply` runs them
const [root, policyPath, mode = 'cold'] = process.argv.slice(2);
const fs = require('node:fs');
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { planChange } = require(`${root}/plan/change`);
const { emptyKernelState } = require(`${root}/tc/model`);
// A build whose applier indexes each base once, after the change that made it is answered
// (session 19): both undefined in builds before it, which index the base in every change.
const { appliedIndex } = require(`${root}/plan/growth`);
const { keepObservedLookups } = require(`${root}/compile/observed`);

// Page faults (pages touched for the first time: ~13 µs each on the Firecracker VM) and
// the main thread's own CPU time (schedstat, which waiting for a CPU does not count; the
// garbage collector's helper threads and TurboFan are not in it).
const faults = () => process.resourceUsage().minorPageFault;
const threadCpuMs = () => {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};

/** compile + diff from nothing of `policy`, timed: { compiled, state, plan, compileMs, diffMs, totalMs, faults, cpuMs }. */
function compileAndDiff(policy) {
  const f0 = faults();
  const cpu0 = threadCpuMs();
  const t0 = performance.now();
  const compiled = compilePolicy(policy);
  const t1 = performance.now();
  const plan = diff(compiled.state, emptyKernelState());
  const t2 = performance.now();
  return { compiled, state: compiled.state, plan, compileMs: t1 - t0, diffMs: t2 - t1, totalMs: t2 - t0, faults: faults() - f0, cpuMs: threadCpuMs() - cpu0 };
}

/** The policy with its first container's download guarantee doubled: one class changes. */
function oneChanged(policy) {
  const [first, ...rest] = policy.containers;
  const download = { ...first.bandwidth.download, guarantee: first.bandwidth.download.guarantee * 2 };
  return { ...policy, containers: [{ ...first, bandwidth: { ...first.bandwidth, download } }, ...rest] };
}

/**
 * A change as serve's Applier.applyChange meets it, timed: `policy` compiled against the
 * last compiled state as if observed, then planned against it. Nothing of it is kept.
 */
function asServe(policy, last) {
  const f0 = faults();
  const cpu0 = threadCpuMs();
  const t0 = performance.now();
  keepObservedLookups?.(last.state, policy.host.bridge);
  const next = compilePolicy(policy, { observed: last.state });
  const change = planChange(next.state, last.state);
  return { ms: performance.now() - t0, faults: faults() - f0, cpuMs: threadCpuMs() - cpu0, ops: change.kind === 'plan' ? change.plan.length : -1, next };
}

/**
 * What serve does for the next change's base once a change is answered, timed: its
 * indexes built and kept (Applier.indexSoon). Nothing, in a build that has no such step.
 */
function indexBase(policy, last) {
  if (appliedIndex === undefined || keepObservedLookups === undefined) return { ms: 0, faults: 0 };
  const f0 = faults();
  const t0 = performance.now();
  keepObservedLookups(last.state, policy.host.bridge);
  appliedIndex(last.state);
  return { ms: performance.now() - t0, faults: faults() - f0 };
}

/** The recompile against the first compile's state as observed and the no-op diff (a tick with nothing to do), in ms; nothing of it kept. */
function recompileAndNoopDiff(policy, observed) {
  const t0 = performance.now();
  const recompiled = compilePolicy(policy, { observed });
  const ops = diff(recompiled.state, observed).length;
  return { ms: performance.now() - t0, ops };
}

function cold() {
  const policy = JSON.parse(fs.readFileSync(policyPath, 'utf8'));
  // Collected before timing, so the policy is in the old generation as it is in `apply`
  // (validating 10,000 containers' YAML takes seconds) and in `serve` (a loaded policy):
  // promoting a still-young policy cost the timed compile 25–35 ms nobody pays outside.
  global.gc();
  const baseRss = process.memoryUsage().rss / 2 ** 20;
  const first = compileAndDiff(policy);
  const objects = first.plan.length;
  first.plan = undefined;
  const noop = recompileAndNoopDiff(policy, first.state);
  // Peak RSS of the cold compile (and the recompile), the figure the < 200 MB target is
  // about.
  const rssMb = process.resourceUsage().maxRSS / 1024;
  // As serve holds it: the last compile alive (serve keeps it as its applied state and
  // for its snapshot) while the next one is compiled and planned against it. Collected
  // first: serve's change comes long after its last one, whose garbage V8 has collected
  // since (ticks run every few seconds), so that the peak below is the change's own, not
  // this child's earlier compiles' (at 10,000 in 100 groups: 219 MB without, 185 with).
  let last = first.compiled;
  first.compiled = undefined;
  first.state = undefined;
  global.gc();
  // The base as serve has it when a change comes after a change: indexed after the last
  // answer, and collected since (the next ADD comes after at least the answer's round trip).
  const indexed = indexBase(policy, last);
  global.gc();
  const same = asServe(policy, last);
  same.next = undefined;
  const changed = asServe(oneChanged(policy), last);
  // Kept as serve keeps it: the base of the next change (below).
  let left = changed.next;
  changed.next = undefined;
  const warmRssMb = process.resourceUsage().maxRSS / 1024;
  // The next change (back to the policy) against the state the changed one left (serve's
  // next base), indexed first as after the answer; the state it replaced goes, as in serve.
  last = undefined;
  global.gc();
  const leftIndexed = indexBase(policy, left);
  global.gc();
  const chained = asServe(policy, left);
  chained.next = undefined;
  // The same change against a copy of that state, not indexed yet (a change that comes
  // while serve is still indexing the state the last change or tick left): a copy is
  // another key, nothing kept for it.
  const copy = { state: { ...left.state } };
  left = undefined;
  global.gc();
  const unindexed = asServe(policy, copy);
  unindexed.next = undefined;
  const unindexedRssMb = process.resourceUsage().maxRSS / 1024;
  return {
    objects,
    compileMs: first.compileMs,
    diffFromEmptyMs: first.diffMs,
    compileAndDiffTotalMs: first.totalMs,
    compileAndDiffFaults: first.faults,
    compileAndDiffThreadCpuMs: first.cpuMs,
    recompileWithObservedAndNoopDiffMs: noop.ms,
    noopOps: noop.ops,
    warmSameMs: same.ms,
    warmSameFaults: same.faults,
    warmSameThreadCpuMs: same.cpuMs,
    warmSameOps: same.ops,
    warmChangedMs: changed.ms,
    warmChangedFaults: changed.faults,
    warmChangedThreadCpuMs: changed.cpuMs,
    warmChangedOps: changed.ops,
    unindexedChangedMs: unindexed.ms,
    chainedIndexMs: leftIndexed.ms,
    chainedMs: chained.ms,
    chainedOps: chained.ops,
    unindexedRssMb,
    baseIndexMs: indexed.ms,
    baseIndexFaults: indexed.faults,
    rssMb,
    warmRssMb,
    baseRss,
  };
}

async function apply() {
  const { loadPolicyFromPaths } = require(`${root}/sources/files/read`);
  const t0 = performance.now();
  const loaded = await loadPolicyFromPaths([policyPath]);
  const loadMs = performance.now() - t0;
  if (!loaded.ok) throw new Error(`bench policy invalid: ${loaded.issues.slice(0, 3).map((i) => i.message).join('; ')}`);
  const r = compileAndDiff(loaded.policy);
  return { objects: r.plan.length, loadMs, applyCompileAndDiffMs: r.totalMs, applyFaults: r.faults, applyThreadCpuMs: r.cpuMs };
}

(async () => {
  const figures = mode === 'apply' ? await apply() : cold();
  process.stdout.write(`${JSON.stringify(figures)}\n`);
})();
