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
  desired.addresses.forEach((o) => forward.addAt(ADDRESS_RANK, create(o)));
  desired.routes.forEach((o) => forward.addAt(ROUTE_RANK, create(o)));
  desired.sysctls.forEach((o) => forward.addAt(SYSCTL_RANK, create(o)));
  desired.qdiscs.forEach((o) => forward.addAt(qdiscRank(o, nesting), create(o)));
  desired.classes.forEach((o) => forward.addAt(classRank(o, nesting), create(o)));
  desired.filters.forEach((o) => forward.addAt(filterRank(o), create(o)));
  desired.cgroups.forEach((o) => forward.addAt(CGROUP_RANK, create(o)));
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
