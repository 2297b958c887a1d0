// The child of bench/compileBytes.ts: compile + diff of one policy on one build, in a young
// generation large enough never to be collected, and the bytes each part allocated (heap
// used + array buffers, after minus before). Plain JavaScript, run on dist/ (or another
// build's). Arguments: the root to load, the policy as JSON. A part's bytes include those
// of the parts it calls (groupedLayout's are within sharedTrees').
const [root, policyFile] = process.argv.slice(2);
const fs = require('node:fs');

const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
// The parts, wrapped through their modules' exports (how the compiled callers reach them),
// in the order a compile + diff runs them; a part a build does not have is left out. Only
// parts called once or twice per compile: a wrapper's own arguments list would count.
const parts = [
  ['compile/observed', 'observedInputs'],
  ['shape/build', 'shapeTree'],
  ['compile/topology', 'containersPlumbing'],
  ['compile/assemble', 'sharedTrees'],
  ['compile/nested', 'groupedLayout'],
  ['plan/fresh', 'fromNothing'],
];
const bytes = new Map();
for (const [file, name] of parts) {
  const mod = require(`${root}/${file}`);
  const original = mod[name];
  if (typeof original !== 'function') continue;
  bytes.set(name, 0);
  mod[name] = (...a) => {
    const before = used();
    const result = original(...a);
    bytes.set(name, bytes.get(name) + used() - before);
    return result;
  };
}
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);
const policy = JSON.parse(fs.readFileSync(policyFile, 'utf8'));
global.gc();

const mb = (x) => (x / 2 ** 20).toFixed(2);
const t0 = used();
const compiled = compilePolicy(policy);
const t1 = used();
globalThis.kept = diff(compiled.state, emptyKernelState());
const t2 = used();
const within = [...bytes].map(([name, b]) => `${name} ${mb(b)}`).join(', ');
console.log(`allocated MB: compile ${mb(t1 - t0)}, diff ${mb(t2 - t1)}, in all ${mb(t2 - t0)}; of which ${within}`);
