// The plan for a change of policy without observing the kernel: the new desired state
// diffed against the desired state last applied in full. Pure. serve uses it to shape a
// pod before its ADD is answered; the reconciler's next tick (observe, diff, repair)
// still follows and corrects anything the kernel holds that the last applied state does
// not say (drift), so this plan only ever adds and changes: removing needs an
// observation to know what the kernel still holds and whose it is.

import type { KernelState } from '../tc/model';
import type { Plan } from '../tc/operation';
import { diff } from './diff';
import { growthPlan } from './growth';

export type ChangePlan =
  | { readonly kind: 'plan'; readonly plan: Plan }
  /** Not planned without an observation; the next tick converges as it always did. */
  | { readonly kind: 'skip'; readonly reason: string };

export function planChange(desired: KernelState, applied: KernelState): ChangePlan {
  // Most changes only add and change (an ADD): the general diff only when one may remove.
  const grown = growthPlan(desired, applied);
  if (grown !== undefined) return { kind: 'plan', plan: grown };
  const plan = diff(desired, applied);
  // A delete (of an object no longer wanted, or one replaced because a field cannot be
  // changed in place) is the tick's: it checks ownership against what it observes.
  const deletes = plan.filter((op) => op.op === 'delete').length;
  if (deletes > 0) return { kind: 'skip', reason: `the change removes or replaces ${deletes} object(s)` };
  return { kind: 'plan', plan };
}
