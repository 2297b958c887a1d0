// The child of bench/compileSurvivors.ts: what compile + the first diff keep alive and
// what they allocate in all, at one size, each in a process of its own (the profile the
// sampler hands back would be alive in the snapshot). Plain JavaScript, run on dist/ (or
// another build's). Arguments: alive | allocated, the root to load, the policy as JSON, a
// scratch directory, how many rows to print.
const [mode, root, policyFile, scratch, top] = process.argv.slice(2);
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const { allocatedBy } = require('./allocatedBy');
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);

const policy = JSON.parse(fs.readFileSync(policyFile, 'utf8'));
global.gc();

const mb = (x) => (x / 2 ** 20).toFixed(2);
if (mode === 'allocated') {
  // Everything allocated, collected or not.
  const allocated = allocatedBy(() => diff(compilePolicy(policy).state, emptyKernelState()), 256);
  console.log(`allocated in all by compile + first diff (sampled, collected objects counted): ${mb(allocated)} MB`);
  process.exit(0);
}
const before = v8.writeHeapSnapshot(path.join(scratch, 'before.heapsnapshot'));
const compiled = compilePolicy(policy);
const plan = diff(compiled.state, emptyKernelState());
const after = v8.writeHeapSnapshot(path.join(scratch, 'after.heapsnapshot'));
globalThis.kept = [compiled, plan];

/** The snapshot's nodes and edges, with the field offsets its meta names. */
function load(file) {
  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  const m = s.snapshot.meta;
  const at = (fields, name) => fields.indexOf(name);
  return { s, nf: m.node_fields.length, ef: m.edge_fields.length, types: m.node_types[0], edgeTypes: m.edge_types[0], type: at(m.node_fields, 'type'), name: at(m.node_fields, 'name'), id: at(m.node_fields, 'id'), size: at(m.node_fields, 'self_size'), edges: at(m.node_fields, 'edge_count'), edgeType: at(m.edge_fields, 'type'), edgeName: at(m.edge_fields, 'name_or_index') };
}
const a = load(before);
const seen = new Set();
for (let i = 0; i < a.s.nodes.length; i += a.nf) seen.add(a.s.nodes[i + a.id]);
const b = load(after);
const { nodes, edges, strings } = b.s;
// A plain object is named by its properties (those that are not small integers), the rest by type and name.
const rows = new Map();
let total = 0;
let count = 0;
for (let i = 0, e = 0; i < nodes.length; e += nodes[i + b.edges] * b.ef, i += b.nf) {
  if (seen.has(nodes[i + b.id])) continue;
  const type = b.types[nodes[i + b.type]];
  let key = `${type} ${strings[nodes[i + b.name]]}`;
  if (type === 'object' && strings[nodes[i + b.name]] === 'Object') {
    const props = [];
    for (let x = e; x < e + nodes[i + b.edges] * b.ef; x += b.ef) if (b.edgeTypes[edges[x + b.edgeType]] === 'property' && strings[edges[x + b.edgeName]] !== '__proto__') props.push(strings[edges[x + b.edgeName]]);
    key = `{${props.join(', ')}}`;
  } else if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number') key = type;
  const row = rows.get(key) ?? { n: 0, bytes: 0 };
  row.n++;
  row.bytes += nodes[i + b.size];
  rows.set(key, row);
  total += nodes[i + b.size];
  count++;
}
console.log(`alive after compile + first diff: ${mb(total)} MB in ${count} objects`);
[...rows]
  .sort((x, y) => y[1].bytes - x[1].bytes)
  .slice(0, Number(top))
  .forEach(([key, r]) => console.log(`${mb(r.bytes).padStart(8)} MB ${String(r.n).padStart(8)} × ${String(Math.round(r.bytes / r.n)).padStart(4)} B  ${key.slice(0, 110)}`));
