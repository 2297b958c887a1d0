import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { planChange } from '../../src/plan/change';
import { diff } from '../../src/plan/diff';
import type { Policy } from '../../src/policy/model';
import { makeHandle } from '../../src/tc/handle';
import { objectKey } from '../../src/tc/identity';
import { stateLists, type KernelState } from '../../src/tc/model';
import { demoPolicy } from '../support/policy';

const full = demoPolicy();
const without = (name: string): Policy => ({ ...full, containers: full.containers.filter((c) => c.name !== name) });
const keys = (s: KernelState): Set<string> => new Set(stateLists(s).flatMap((l) => l.map(objectKey)));

/** What serve has before a pod's ADD (the policy without it, applied) and after (compiled against that observation, as the applier does). */
function beforeAndAfter(name: string): { applied: KernelState; desired: KernelState } {
  const applied = compilePolicy(without(name)).state;
  return { applied, desired: compilePolicy(full, { observed: applied }).state };
}

describe('planChange (a change applied without observing)', () => {
  it('one more workload: only creates and changes, which make the applied state the desired one', () => {
    const { applied, desired } = beforeAndAfter('batch');
    const change = planChange(desired, applied);
    if (change.kind !== 'plan') throw new Error(change.reason);
    expect(change.plan.length).toBeGreaterThan(0);
    expect(change.plan.every((op) => op.op !== 'delete')).toBe(true);
    const fresh = new Set([...keys(desired)].filter((k) => !keys(applied).has(k)));
    const created = change.plan.filter((op) => op.op === 'create').map((op) => objectKey(op.object));
    // Only what is new is created (a veth's peer and a namespace's lo come with their creates),
    // every new queue, class and filter among it; the rest are changes of what exists.
    for (const k of created) expect(fresh.has(k)).toBe(true);
    const freshTc = [...desired.qdiscs, ...desired.classes, ...desired.filters].map(objectKey).filter((k) => fresh.has(k));
    expect(freshTc.length).toBeGreaterThan(0);
    for (const k of freshTc) expect(created).toContain(k);
    // A change is of an object applied (a sibling's class) or of one just made (a new veth's peer brought up).
    for (const op of change.plan) if (op.op === 'change') expect(keys(applied).has(objectKey(op.before)) || fresh.has(objectKey(op.object))).toBe(true);
    // Nothing else is disturbed: the other workloads' class ids and filters are the ones applied.
    const otherFilters = (s: KernelState): string[] => s.filters.map(objectKey).filter((k) => keys(applied).has(k)).sort();
    expect(otherFilters(desired)).toEqual(applied.filters.map(objectKey).sort());
  });

  it('the same desired state: an empty plan', () => {
    const { desired } = beforeAndAfter('batch');
    expect(planChange(desired, desired)).toEqual({ kind: 'plan', plan: [] });
  });

  it('a change that removes anything is left to the tick, which observes first', () => {
    const { applied, desired } = beforeAndAfter('batch');
    expect(diff(applied, desired).some((op) => op.op === 'delete')).toBe(true);
    expect(planChange(applied, desired)).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/removes or replaces \d+ object/) });
  });

  it('an object replaced (a field the kernel cannot change in place) is left to the tick', () => {
    const { desired } = beforeAndAfter('batch');
    const kind = desired.qdiscs[0]!;
    const replaced: KernelState = { ...desired, qdiscs: desired.qdiscs.map((q) => (q === kind ? { ...q, handle: makeHandle(0x77, 0) } : q)) };
    expect(planChange(replaced, desired).kind).toBe('skip');
  });
});
