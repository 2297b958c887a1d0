// What each container of a policy with groups should get in a demo phase: the
// hierarchical oracle over the groups and containers as the policy states them. Pure.
import { allocateTree, type TreeAllocationInput } from '../allocate/hierarchy';
import { groupGuarantees } from '../policy/groups';
import type { Policy } from '../policy/model';
import type { Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import type { Phase } from './scenario';

/** Undefined for a policy without groups (the flat oracle decides). */
export function groupExpectation(policy: Policy): ((direction: Direction, phase: Phase) => ReadonlyMap<string, BitsPerSec>) | undefined {
  if (policy.groups.length === 0) return undefined;
  return (direction, phase) => {
    const capacity = policy.host.capacity[direction];
    const guarantees = groupGuarantees(policy.groups, policy.containers, direction);
    const nodes: TreeAllocationInput[] = [
      ...policy.groups.map((g) => ({ id: g.name, ...(g.parent ? { parent: g.parent } : {}), guarantee: guarantees.get(g.name)!, ceiling: g.bandwidth[direction].ceiling, priority: g.bandwidth[direction].priority, demand: bitsPerSec(0) })),
      ...policy.containers.map((c) => ({ id: c.name, ...(c.group ? { parent: c.group } : {}), guarantee: c.bandwidth[direction].guarantee, ceiling: c.bandwidth[direction].ceiling, priority: c.bandwidth[direction].priority, demand: bitsPerSec(phase.active.includes(c.name) ? 2 * capacity : 0) })),
    ];
    return allocateTree(capacity, nodes);
  };
}
