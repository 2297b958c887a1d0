// The plan for a fresh machine (nothing observed): everything desired is created. Pure.

import type { KernelObject, KernelState, LinkObject } from '../tc/model';
import { creatable } from './compare';
import { isLoopback, keptEndOf, LinkIndex, loopbackChange, type VethObject } from './links';
import type { Operation, Plan } from '../tc/operation';
import { ADDRESS_RANK, CGROUP_RANK, classRank, filterRank, linkRank, NAMESPACE_RANK, QdiscNesting, qdiscRank, ROUTE_RANK, SYSCTL_RANK } from './order';
import { RankedOperations } from './ranked';

/**
 * A fresh machine: everything is created, so no index of every key is needed to find
 * what differs (the same result as the general path, which a unit test checks).
 */
export function fromNothing(desired: KernelState): Plan {
  const nesting = QdiscNesting.of(desired.qdiscs);
  const forward = new RankedOperations(nesting);
  // List by list, in STATE_LISTS order, with each type's own rank (no switch on the type
  // per object). Only links can be left out (external devices, the second end of a
  // veth): the other lists are created whole.
  const keptVeths = new LinkIndex();
  // Each kept veth's other end, met as its second end: the peer lookup needs no index
  // of all the links of a fresh machine.
  const secondEnds = new Map<LinkObject, LinkObject>();
  const create = (object: KernelObject): Operation => ({ op: 'create', object });
  desired.namespaces.forEach((o) => forward.addAt(NAMESPACE_RANK, create(o)));
  desired.links.forEach((o) => {
    if (!creatable(o)) return;
    const kept = keptEndOf(o, keptVeths);
    if (kept) secondEnds.set(kept, o);
    else forward.addAt(linkRank(o), create(o));
  });
  addCreates(forward, desired.addresses, oneRank(desired.addresses, ADDRESS_RANK));
  addCreates(forward, desired.routes, oneRank(desired.routes, ROUTE_RANK));
  addCreates(forward, desired.sysctls, oneRank(desired.sysctls, SYSCTL_RANK));
  // Each list's ranks by a callback of its own: one function reading every type's fields
  // was optimised for one type and thrown away at the next, four times per plan.
  const qdiscRanks = new Uint8Array(desired.qdiscs.length);
  desired.qdiscs.forEach((o, i) => (qdiscRanks[i] = qdiscRank(o, nesting)));
  addCreates(forward, desired.qdiscs, qdiscRanks);
  const classRanks = new Uint8Array(desired.classes.length);
  desired.classes.forEach((o, i) => (classRanks[i] = classRank(o, nesting)));
  addCreates(forward, desired.classes, classRanks);
  const filterRanks = new Uint8Array(desired.filters.length);
  desired.filters.forEach((o, i) => (filterRanks[i] = filterRank(o)));
  addCreates(forward, desired.filters, filterRanks);
  addCreates(forward, desired.cgroups, oneRank(desired.cgroups, CGROUP_RANK));
  const created = new Set<string>();
  desired.namespaces.forEach((n) => created.add(n.name));
  desired.links.forEach((o) => {
    if (!isLoopback(o)) return;
    const change = loopbackChange(o, created.has(o.netns));
    if (change) forward.addAt(linkRank(o), change);
  });
  // A veth listed without its other end (or with a link of that name that is not its
  // peer): what a lookup by namespace and name finds, as in the general path.
  let all: LinkIndex | undefined;
  const byName = (veth: VethObject): LinkObject | undefined => {
    if (!all) {
      all = new LinkIndex();
      desired.links.forEach((l) => all!.set(l));
    }
    return all.get(veth.spec.peerNetns, veth.spec.peerName);
  };
  return forward.ordered((veth) => secondEnds.get(veth) ?? byName(veth));
}

/** The ranks of a list whose objects all have `rank`. */
const oneRank = (objects: readonly KernelObject[], rank: number): Uint8Array => new Uint8Array(objects.length).fill(rank);

/**
 * A create for each of `objects`, whose ranks are `ranks` (below 256: order.ts's
 * highest, the filters', are 70–72), each rank's operations in a list made at its final
 * size, counted first. Pushed one by one, 40,000 filters' operations grew their list
 * through copies of twice its size in all, each a large object on pages never touched
 * before (a page fault per 4 KiB, ~13 µs on this VM). Reads no field of the objects, so
 * one compiled form serves every type.
 */
function addCreates(forward: RankedOperations, objects: readonly KernelObject[], ranks: Uint8Array): void {
  const lists: Operation[][] = [];
  countByRank(ranks).forEach((n, rank) => {
    if (n > 0) lists[rank] = new Array<Operation>(n);
  });
  fillByRank(lists, objects, ranks);
  lists.forEach((ops, rank) => forward.addAllAt(rank, ops));
}

// One loop per function, each ending with its loop: V8 compiles a long loop on the stack
// (OSR), and code after it that had not run yet threw that code away (four times per plan).

/** How many of `ranks` are each rank. */
function countByRank(ranks: Uint8Array): Uint32Array {
  const counts = new Uint32Array(256);
  for (let i = 0; i < ranks.length; i++) counts[ranks[i]!]!++;
  return counts;
}

/** Each object's create into the list of its rank, in order. */
function fillByRank(lists: Operation[][], objects: readonly KernelObject[], ranks: Uint8Array): void {
  const filled = new Uint32Array(lists.length);
  for (let i = 0; i < objects.length; i++) {
    const rank = ranks[i]!;
    lists[rank]![filled[rank]!++] = { op: 'create', object: objects[i]! };
  }
}
