// The dumping child of bench/compileSame.ts: compiles each policy file with the code under
// `root` (a dist/ directory), diffs it against nothing, against itself recompiled with
// it as the observed state, and against the next policy's state, and prints one line
// per result: its name and a digest of its exact form. Plain JavaScript, so that two
// builds (another commit's dist/ and this one's) run the same dumper.
//   node bench/compileSameChild.js <root> <policy.json>...
const { createHash } = require('node:crypto');
const [root, ...policyFiles] = process.argv.slice(2);
const { compilePolicy } = require(`${root}/compile`);
const { diff } = require(`${root}/plan/diff`);
const { emptyKernelState } = require(`${root}/tc/model`);

/**
 * The exact form of a value: keys in their order, undefined and absent keys told apart,
 * -0 from 0, typed arrays by type. JSON.stringify would hide all three differences.
 */
function exact(value) {
  if (value === undefined) return 'u';
  if (value === null) return 'n';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}[${Array.from(value).join(',')}]`;
  if (Array.isArray(value)) return `[${value.map(exact).join(',')}]`;
  if (value instanceof Map) return `Map{${[...value].map(([k, v]) => `${exact(k)}:${exact(v)}`).join(',')}}`;
  if (value instanceof Set) return `Set{${[...value].map(exact).join(',')}}`;
  return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}:${exact(value[k])}`).join(',')}}`;
}

/** A plan's exact form, each operation's object also named by its place in `desired` (the plan points at the desired objects). */
function exactPlan(plan, desired) {
  const place = new Map();
  for (const [list, objects] of Object.entries(desired)) objects.forEach((o, i) => place.set(o, `${list}#${i}`));
  return exact(plan.map((op) => ({ ...op, at: place.get(op.object) ?? 'not desired' })));
}

const digest = (text) => `${createHash('sha256').update(text).digest('hex').slice(0, 16)} (${text.length} chars)`;

const compiled = policyFiles.map((file) => compilePolicy(JSON.parse(require('node:fs').readFileSync(file, 'utf8'))));
compiled.forEach((c, i) => {
  const name = require('node:path').basename(policyFiles[i]);
  const recompiled = compilePolicy(JSON.parse(require('node:fs').readFileSync(policyFiles[i], 'utf8')), { observed: c.state });
  console.log(`${name} compiled: ${digest(exact(c))}`);
  console.log(`${name} recompiled against itself: ${digest(exact(recompiled))}`);
  console.log(`${name} plan from nothing: ${digest(exactPlan(diff(c.state, emptyKernelState()), c.state))}`);
  console.log(`${name} converged plan: ${digest(exactPlan(diff(recompiled.state, c.state), recompiled.state))}`);
  // From the next policy's state (the general diff: creates, changes, deletes), not from
  // every other one's: each such diff of 10,000 containers takes seconds.
  const j = (i + 1) % compiled.length;
  console.log(`${name} from ${require('node:path').basename(policyFiles[j])}: ${digest(exactPlan(diff(c.state, compiled[j].state), c.state))}`);
});
