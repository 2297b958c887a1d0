// The child of bench/freshPlan.ts: what the plan from nothing (diff(state, empty)) alone
// allocates, keeps alive, faults and costs the main thread, on a state compiled before it. Plain JavaScript, run
// on a built dist/ (or another build's). Arguments: the root to load, the policy as JSON,
// allocated | alive | faults.
const [root, policyFile, mode] = process.argv.slice(2);
const fs = require('node:fs');
const { allocatedBy } = require('./allocatedBy');
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);

const state = compilePolicy(JSON.parse(fs.readFileSync(policyFile, 'utf8'))).state;
global.gc();
global.gc();
if (mode === 'allocated') {
  const allocated = allocatedBy(() => diff(state, emptyKernelState()), 128);
  console.log(JSON.stringify({ allocated }));
} else if (mode === 'alive') {
  const before = process.memoryUsage().heapUsed;
  globalThis.kept = diff(state, emptyKernelState());
  global.gc();
  global.gc();
  console.log(JSON.stringify({ alive: process.memoryUsage().heapUsed - before, length: globalThis.kept.length }));
} else {
  // The main thread's own CPU time (schedstat: waiting for a CPU is not in it).
  const cpuMs = () => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  const faults = process.resourceUsage().minorPageFault;
  const cpu = cpuMs();
  globalThis.kept = diff(state, emptyKernelState());
  console.log(JSON.stringify({ faults: process.resourceUsage().minorPageFault - faults, cpuMs: cpuMs() - cpu }));
}
