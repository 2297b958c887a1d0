// bench/diffChild: one cold run of the diff at N containers: compile twice, then time
// diff(desired, empty) and the no-op diff(recompiled, desired). One process per run, so
// side by side with another checkout (a git worktree at another commit) it alternates:
//   npx tsx --expose-gc bench/diffChild.js <checkout> 10000   (prints one JSON line)
const [checkout, n] = process.argv.slice(2);
const root = require('node:path').resolve(checkout);
const { compilePolicy } = require(`${root}/src/compile`);
const { diff } = require(`${root}/src/plan/diff`);
const { emptyKernelState } = require(`${root}/src/tc/model`);
const { syntheticPolicyDirect } = require(`${root}/bench/fixtures`);
const policy = syntheticPolicyDirect(Number(n));
global.gc();
const compiled = compilePolicy(policy);
const recompiled = compilePolicy(policy, { observed: compiled.state });
global.gc();
const t1 = performance.now();
const fresh = diff(compiled.state, emptyKernelState());
const t2 = performance.now();
const noop = diff(recompiled.state, compiled.state);
const t3 = performance.now();
process.stdout.write(JSON.stringify({ fresh: t2 - t1, noop: t3 - t2, ops: fresh.length, noopOps: noop.length }) + '\n');
