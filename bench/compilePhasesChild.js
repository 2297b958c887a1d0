// The child of bench/compilePhases.ts: the bytes one phase of a cold compile allocates,
// exactly (run with a young generation large enough that nothing is collected during the
// phase: the heap's growth is everything allocated, garbage included), and the page
// faults of the process meanwhile. Plain JavaScript, run on dist/ (or another build's).
// Arguments: the root to load, the policy as JSON, the phase (observed | shape | plumbing
// | describe | compile | compile+diff).
const [root, policyFile, phase] = process.argv.slice(2);
const fs = require('node:fs');
const v8 = require('node:v8');
const { compilePolicy } = require(`${root}/compile`);
const { observedInputs } = require(`${root}/compile/observed`);
const { shapeTree } = require(`${root}/shape/build`);
const topology = require(`${root}/compile/topology`);
const { describe } = require(`${root}/compile/describe`);
const { isWired } = require(`${root}/shape/model`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);

const policy = JSON.parse(fs.readFileSync(policyFile, 'utf8'));
const prefix = `/${policy.host.subnet.split('/')[1]}`;
// The plumbing and the descriptions are measured on a tree made beforehand.
const tree = phase === 'plumbing' || phase === 'describe' ? shapeTree(policy, observedInputs(policy, undefined), []) : undefined;

/** The wiring of every container (builds before containersPlumbing added them one by one). */
function plumbing() {
  if (topology.containersPlumbing) return topology.containersPlumbing(policy.host, tree.containers, prefix, '');
  const into = topology.hostPlumbing(policy.host);
  tree.containers.forEach((p) => {
    if (!p.policy.workload && isWired(p)) topology.addContainerPlumbing(into, policy.host, p, prefix, '');
  });
  return into;
}

const run = {
  observed: () => observedInputs(policy, undefined),
  shape: () => shapeTree(policy, observedInputs(policy, undefined), []),
  plumbing,
  describe: () => tree.containers.map((p, i) => describe(policy.host, p, 0x10010 + i)),
  compile: () => compilePolicy(policy),
  'compile+diff': () => diff(compilePolicy(policy).state, emptyKernelState()),
}[phase];
global.gc();
const faults = process.resourceUsage().minorPageFault;
const before = v8.getHeapStatistics().used_heap_size;
globalThis.kept = run();
const after = v8.getHeapStatistics().used_heap_size;
console.log(JSON.stringify({ allocated: after - before, faults: process.resourceUsage().minorPageFault - faults }));
