// The order operations must run in: parents before children on create, children
// before parents on delete. One rank table, used in both directions.

import { TC_H_INGRESS, TC_H_ROOT, minorOf } from '../tc/handle';
import { assertNever, type ClassObject, type FilterObject, type KernelObject, type LinkObject, type QdiscObject } from '../tc/model';

/** Lower ranks are created first and deleted last. Each rank belongs to one object type. */
export function createRank(o: KernelObject): number {
  switch (o.type) {
    case 'namespace':
      return NAMESPACE_RANK;
    case 'link':
      return linkRank(o);
    case 'address':
      return ADDRESS_RANK;
    case 'route':
      return ROUTE_RANK;
    case 'sysctl':
      return SYSCTL_RANK;
    case 'qdisc':
      return qdiscRank(o);
    case 'class':
      return classRank(o);
    case 'filter':
      return filterRank(o);
    case 'cgroup-classid':
      return CGROUP_RANK;
    default:
      return assertNever(o);
  }
}

// The rank of each type on its own, for callers that go through a state list by list
// and so know the type (the plan for a fresh machine): no switch on `type` per object,
// a property read that sees a dozen object shapes in a 120,000-object diff.

export const NAMESPACE_RANK = 0;
export const ADDRESS_RANK = 20;
export const ROUTE_RANK = 30;
export const SYSCTL_RANK = 35;
export const CGROUP_RANK = 60;

/** Bridges and IFBs first: veths name them as master or redirect target. */
export const linkRank = (l: LinkObject): number => (l.spec.kind === 'veth' ? 11 : 10);

export const qdiscRank = (q: QdiscObject): number => (q.parent === TC_H_ROOT || q.parent === TC_H_INGRESS ? 40 : 44);

/** A class hanging off the qdisc (minor 0 parent) before classes under it. */
export const classRank = (c: ClassObject): number => (minorOf(c.parent) === 0 ? 41 : 42);

export function filterRank(f: FilterObject): number {
  if (f.spec.kind === 'u32' && f.spec.divisor !== undefined) return 50;
  // Table entries before the filter that links into the table, so lookups never
  // land in a half-filled table.
  if (f.spec.kind === 'u32' && f.spec.link !== undefined) return 52;
  return 51;
}
