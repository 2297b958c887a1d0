// The order operations must run in: parents before children on create, children
// before parents on delete. One rank table, used in both directions.

import { TC_H_INGRESS, TC_H_ROOT, minorOf } from '../tc/handle';
import { assertNever, type KernelObject } from '../tc/model';

/** Lower ranks are created first and deleted last. */
export function createRank(o: KernelObject): number {
  switch (o.type) {
    case 'namespace':
      return 0;
    case 'link':
      // Bridges and IFBs first: veths name them as master or redirect target.
      return o.spec.kind === 'veth' ? 11 : 10;
    case 'address':
      return 20;
    case 'route':
      return 30;
    case 'sysctl':
      return 35;
    case 'qdisc':
      return o.parent === TC_H_ROOT || o.parent === TC_H_INGRESS ? 40 : 44;
    case 'class':
      // A class hanging off the qdisc (minor 0 parent) before classes under it.
      return minorOf(o.parent) === 0 ? 41 : 42;
    case 'filter':
      if (o.spec.kind === 'u32' && o.spec.divisor !== undefined) return 50;
      // Table entries before the filter that links into the table, so lookups never
      // land in a half-filled table.
      if (o.spec.kind === 'u32' && o.spec.link !== undefined) return 52;
      return 51;
    case 'cgroup-classid':
      return 60;
    default:
      return assertNever(o);
  }
}
