// The plan for a fresh machine (nothing observed): everything desired is created. Pure.

import type { KernelObject, KernelState, LinkObject } from '../tc/model';
import { creatable } from './compare';
import { isLoopback, isPeerOf, keptEndOf, LinkIndex, loopbackChange, type VethObject } from './links';
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
  addCreates(forward, desired.namespaces, oneRank(desired.namespaces, NAMESPACE_RANK));
  const pairs = vethPairs(desired.links, (o, rank) => forward.addAt(rank, { op: 'create', object: o }));
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
  // Loopbacks come in the order of their namespaces: a Set of every name was 0.6 MB.
  const created = new InOrderIndex(desired.namespaces, (n) => n.name);
  desired.links.forEach((o) => {
    if (!isLoopback(o)) return;
    const change = loopbackChange(o, created.indexOf(o.netns) !== undefined);
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
  return forward.ordered((veth) => pairs.secondEndOf(veth) ?? byName(veth));
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

/**
 * Where a key is among `items`, for lookups that mostly come in the items' order (each
 * just after the one found before): a cursor answers those, and a Map of every key is
 * made only for one that comes out of order or is not there. A fresh plan asks for each
 * veth's second end and each loopback's namespace this way; the Maps of them were 2.3 MB
 * allocated at 10,000 containers.
 */
class InOrderIndex<T, K> {
  private next = 0;
  private byKey: Map<K, number> | undefined;

  constructor(
    private readonly items: readonly T[],
    private readonly keyOf: (item: T) => K,
  ) {}

  indexOf(key: K): number | undefined {
    const at = this.next;
    if (at < this.items.length && this.keyOf(this.items[at]!) === key) {
      this.next = at + 1;
      return at;
    }
    return this.all().get(key);
  }

  /** Every key's index; the first of a repeated key, as the cursor finds it. */
  private all(): Map<K, number> {
    if (this.byKey) return this.byKey;
    const byKey = new Map<K, number>();
    this.items.forEach((item, i) => {
      const key = this.keyOf(item);
      if (!byKey.has(key)) byKey.set(key, i);
    });
    return (this.byKey = byKey);
  }
}

/** The kept end of each veth pair met in desired.links, and its second end (none of a veth listed alone). */
class VethPairs {
  readonly kept: LinkObject[] = [];
  readonly second: LinkObject[] = [];
  /** The plan asks in the order the pairs were met (one rank holds every veth). */
  private readonly index = new InOrderIndex(this.kept, (l: LinkObject) => l);

  add(kept: LinkObject, second: LinkObject): void {
    this.kept.push(kept);
    this.second.push(second);
  }

  secondEndOf(veth: LinkObject): LinkObject | undefined {
    const at = this.index.indexOf(veth);
    return at === undefined ? undefined : this.second[at];
  }
}

/**
 * Each creatable link's create through `create`, but a veth's second end's; the pairs.
 * A veth's two ends are usually next to each other (compile lists a container's host end
 * then its eth0): such a pair needs no index of the veths kept (the general path's
 * dedupeVethPairs), only one met apart from its other end does.
 */
function vethPairs(links: readonly LinkObject[], create: (o: LinkObject, rank: number) => void): VethPairs {
  const pairs = new VethPairs();
  const keptVeths = new LinkIndex();
  for (let i = 0; i < links.length; i++) {
    const o = links[i]!;
    if (!creatable(o)) continue;
    const next = links[i + 1];
    if (next !== undefined && isPeerOf(o, next) && isPeerOf(next, o)) {
      create(o, linkRank(o));
      pairs.add(o, next);
      i++;
      continue;
    }
    const kept = keptEndOf(o, keptVeths);
    if (kept) pairs.add(kept, o);
    else create(o, linkRank(o));
  }
  return pairs;
}
