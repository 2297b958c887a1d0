import { loadPolicyFromPaths } from '../src/policy/load';
import { openRuntime } from '../src/app/runtime';
import { flatten } from '../src/plan/diff';
import { objectKey } from '../src/tc/model';
(async () => {
  const r = await loadPolicyFromPaths([process.argv[2]!]);
  if (!r.ok) throw new Error('bad');
  const rt = await openRuntime('debug');
  const p = await rt.applier.plan(r.policy);
  const have = new Map(flatten(p.observed).map((o) => [objectKey(o), o]));
  for (const op of p.plan) {
    const o = have.get(objectKey(op.object));
    console.log(op.op, objectKey(op.object), '\n  want', JSON.stringify(op.object), '\n  have', JSON.stringify(o));
  }
  await rt.close();
})();
