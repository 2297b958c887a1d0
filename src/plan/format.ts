// Plans for people (one line per operation, tc's spellings) and for scripts (JSON).

import { describeObject } from '../tc/describe';
import { objectKey } from '../tc/identity';
import type { Operation, Plan } from '../tc/operation';

export { describeObject } from '../tc/describe';

const VERB: Readonly<Record<Operation['op'], string>> = { create: '+ create', change: '~ change', delete: '- delete' };

export function describeOperation(op: Operation): string {
  const head = `${VERB[op.op]} ${describeObject(op.object)}`;
  return op.op === 'change' ? `${head}  [${op.fields.join(', ')}]` : head;
}

export interface PlanSummary {
  readonly create: number;
  readonly change: number;
  readonly delete: number;
}

export function summarize(plan: Plan): PlanSummary {
  return {
    create: plan.filter((o) => o.op === 'create').length,
    change: plan.filter((o) => o.op === 'change').length,
    delete: plan.filter((o) => o.op === 'delete').length,
  };
}

export function formatPlan(plan: Plan): string {
  if (plan.length === 0) return 'No changes: the kernel already matches the policy.';
  const s = summarize(plan);
  return [...plan.map(describeOperation), '', `Plan: ${s.create} to create, ${s.change} to change, ${s.delete} to delete.`].join('\n');
}

export function planToJson(plan: Plan): { summary: PlanSummary; operations: unknown[] } {
  return {
    summary: summarize(plan),
    operations: plan.map((op) => ({
      op: op.op,
      type: op.object.type,
      key: objectKey(op.object),
      description: describeObject(op.object),
      object: op.object,
      ...(op.op === 'change' ? { fields: op.fields, before: op.before } : {}),
    })),
  };
}
