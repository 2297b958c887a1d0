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
  addCreates(forward, desired.addresses, () => ADDRESS_RANK);
  addCreates(forward, desired.routes, () => ROUTE_RANK);
  addCreates(forward, desired.sysctls, () => SYSCTL_RANK);
  addCreates(forward, desired.qdiscs, (o) => qdiscRank(o, nesting));
  addCreates(forward, desired.classes, (o) => classRank(o, nesting));
  addCreates(forward, desired.filters, filterRank);
  addCreates(forward, desired.cgroups, () => CGROUP_RANK);
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

/**
 * A create for each of `objects` (a list of one type), by rank, each rank's operations
 * in a list made at its final size, counted first. Pushed one by one, 40,000 filters'
 * operations grew their list through copies of twice its size in all, each a large
 * object on pages never touched before (a page fault per 4 KiB, ~13 µs on this VM).
 */
function addCreates<T extends KernelObject>(forward: RankedOperations, objects: readonly T[], rankOf: (o: T) => number): void {
  if (objects.length === 0) return;
  // Ranks are below 256 (order.ts: the filters', the highest, are 70–72).
  const ranks = new Uint8Array(objects.length);
  const counts: number[] = [];
  for (let i = 0; i < objects.length; i++) {
    const rank = rankOf(objects[i]!);
    ranks[i] = rank;
    counts[rank] = (counts[rank] ?? 0) + 1;
  }
  const lists = counts.map((n) => new Array<Operation>(n));
  const filled = counts.map(() => 0);
  for (let i = 0; i < objects.length; i++) {
    const rank = ranks[i]!;
    lists[rank]![filled[rank]!++] = { op: 'create', object: objects[i]! };
  }
  lists.forEach((ops, rank) => forward.addAllAt(rank, ops));
}
