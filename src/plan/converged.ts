// The converged fast path: whether diff(desired, observed) is empty, found by identity
// (tc/identity.ts) without building key strings. Pure.

import { deviceId, IDENTITY, sameFilterRest, type PartIdentity } from '../tc/identity';
import { majorOf } from '../tc/handle';
import { assertNever, stateLists, type FilterObject, type KernelObject, type KernelState } from '../tc/model';
import { compare, deletable, SAME } from './compare';
import { isLoopback } from './links';

/**
 * Whether diff(desired, observed) is empty, decided without the string-keyed indexes
 * of both states the general path builds: a reconcile tick on a converged kernel (the
 * usual case) compares tens of thousands of objects and should cost little. Answers
 * false whenever it is not sure (a desired object missing, one that differs, an
 * observed one left over); the general path then decides. Observed duplicates of one
 * key count as the last of them, as in the general path's index.
 */
export function isConverged(desired: KernelState, observed: KernelState): boolean {
  const index = new ObservedIndex();
  forEachMixed(stateLists(observed), (o) => {
    index.add(o);
    return true;
  });
  const matches = new Matches(index);
  let matchedDeletable = 0;
  const converged = forEachMixed(stateLists(desired), (d) => {
    const at = index.find(d);
    if (at === undefined) return false;
    const o = index.objectAt(at);
    if (compare(d, o) !== SAME) return false;
    if (matches.once(at) && deletable(o)) matchedDeletable++;
    // A desired loopback in a namespace not observed is brought up by the general path.
    return !(isLoopback(d) && d.up && !index.hasNamespace(d.netns));
  });
  return converged && matchedDeletable === index.deletableCount();
}

/** How many objects of each list forEachMixed visits in turns before going list by list. */
const MIXED_PREFIX = 64;

/**
 * Visits every object of `lists` until `visit` answers false; whether none did. Each
 * list's objects in their order, but the first MIXED_PREFIX of every list come first,
 * in turns: this code runs once per plan, and V8 optimised the loop for the object
 * types met so far, threw that code away at the next list's type, and again at each
 * new one. Meeting every type early, it is optimised once,
 * for all of them.
 */
function forEachMixed(lists: readonly (readonly KernelObject[])[], visit: (o: KernelObject) => boolean): boolean {
  for (let i = 0; i < MIXED_PREFIX; i++) {
    for (let l = 0; l < lists.length; l++) if (i < lists[l]!.length && !visit(lists[l]![i]!)) return false;
  }
  // Indexed loops, not for-of: see RankedOperations.ordered.
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l]!;
    for (let i = MIXED_PREFIX; i < list.length; i++) if (!visit(list[i]!)) return false;
  }
  return true;
}

/** tc objects of one device, by their numeric identity within it: positions in ObservedIndex. */
interface DeviceIndex {
  readonly qdiscs: Map<number, number>;
  readonly classes: Map<number, number>;
  /**
   * Filters by the major of the qdisc they hang from: every group's HTB has its own
   * address tables with the root's handles (2:5:1 is on each of them), so by handle
   * alone one handle held ~100 filters at 100 groups, searched one by one.
   */
  readonly filters: Map<number, FilterIndex>;
}

/** The filters on one qdisc of a device. */
interface FilterIndex {
  /** By handle: the first filter with that handle. */
  readonly first: Map<number, number>;
  /** By handle: the further filters sharing it, told apart by parent, prio and protocol. */
  readonly more: Map<number, number[]>;
}

/**
 * Observed objects found by the same identity as objectKey, without building key
 * strings. The maps hold each object's position (a small integer, kept in the map
 * itself) and whether it matched is a byte per position: an entry object per observed
 * object, and an array per filter handle, would be alive while a tick holds both
 * compiled states and the plan (the peak of bench/compile's RSS). Which objects a
 * matching met is not in it (Matches): one index of an applied state serves every
 * change planned against that state (growth.ts).
 */
export class ObservedIndex {
  /** One object per identity (a later one with the same identity takes its place). */
  private readonly objects: KernelObject[] = [];
  private readonly namespaces = new PartIndex(this.objects, IDENTITY.namespace);
  private readonly links = new PartIndex(this.objects, IDENTITY.link);
  private readonly addresses = new PartIndex(this.objects, IDENTITY.address);
  private readonly routes = new PartIndex(this.objects, IDENTITY.route);
  private readonly sysctls = new PartIndex(this.objects, IDENTITY.sysctl);
  private readonly cgroups = new PartIndex(this.objects, IDENTITY.cgroup);
  private readonly devices = new Map<string, Map<string, DeviceIndex>>();
  /** The device device() found last. */
  private last: { readonly netns: string; readonly dev: string; readonly index: DeviceIndex } | undefined;
  /** The qdisc's filters filtersOn() found last. */
  private lastFilters: { readonly device: DeviceIndex; readonly major: number; readonly index: FilterIndex } | undefined;
  /** deletableCount's answer, until the next add. */
  private deletables: number | undefined;

  add(o: KernelObject): void {
    this.deletables = undefined;
    switch (o.type) {
      case 'qdisc':
        return this.put(this.device(o.netns, o.dev, true)!.qdiscs, deviceId.qdisc(o), o);
      case 'class':
        return this.put(this.device(o.netns, o.dev, true)!.classes, deviceId.class(o), o);
      case 'filter':
        return this.addFilter(this.filtersOn(this.device(o.netns, o.dev, true)!, o, true)!, o);
      case 'namespace':
        return this.namespaces.add(o, IDENTITY.namespace.first(o));
      case 'link':
        return this.links.add(o, IDENTITY.link.first(o));
      case 'address':
        return this.addresses.add(o, IDENTITY.address.first(o));
      case 'route':
        return this.routes.add(o, IDENTITY.route.first(o));
      case 'sysctl':
        return this.sysctls.add(o, IDENTITY.sysctl.first(o));
      case 'cgroup-classid':
        return this.cgroups.add(o, IDENTITY.cgroup.first(o));
      default:
        return assertNever(o);
    }
  }

  /** The position of the observed object with `o`'s identity, if any. */
  find(o: KernelObject): number | undefined {
    switch (o.type) {
      case 'qdisc':
        return this.device(o.netns, o.dev, false)?.qdiscs.get(deviceId.qdisc(o));
      case 'class':
        return this.device(o.netns, o.dev, false)?.classes.get(deviceId.class(o));
      case 'filter': {
        const d = this.device(o.netns, o.dev, false);
        const on = d ? this.filtersOn(d, o, false) : undefined;
        return on ? this.findFilter(on, o) : undefined;
      }
      case 'namespace':
        return this.namespaces.find(o, IDENTITY.namespace.first(o));
      case 'link':
        return this.links.find(o, IDENTITY.link.first(o));
      case 'address':
        return this.addresses.find(o, IDENTITY.address.first(o));
      case 'route':
        return this.routes.find(o, IDENTITY.route.first(o));
      case 'sysctl':
        return this.sysctls.find(o, IDENTITY.sysctl.first(o));
      case 'cgroup-classid':
        return this.cgroups.find(o, IDENTITY.cgroup.first(o));
      default:
        return assertNever(o);
    }
  }

  objectAt(at: number): KernelObject {
    return this.objects[at]!;
  }

  /** How many positions there are: one per identity added. */
  get size(): number {
    return this.objects.length;
  }

  hasNamespace(netns: string): boolean {
    return this.namespaces.hasFirst(netns);
  }

  /** Observed identities whose object may be deleted: each holds one position. */
  deletableCount(): number {
    if (this.deletables !== undefined) return this.deletables;
    let n = 0;
    for (let i = 0; i < this.objects.length; i++) if (deletable(this.objects[i]!)) n++;
    return (this.deletables = n);
  }

  /** The last object added with an identity counts (as in a Map by objectKey). */
  private put<K>(positions: Map<K, number>, key: K, o: KernelObject): void {
    const at = positions.get(key);
    if (at === undefined) positions.set(key, this.objects.push(o) - 1);
    else this.objects[at] = o;
  }

  private addFilter(on: FilterIndex, f: FilterObject): void {
    const handle = deviceId.filter(f);
    const first = on.first.get(handle);
    if (first === undefined) {
      on.first.set(handle, this.objects.push(f) - 1);
      return;
    }
    if (sameFilterRest(this.objects[first] as FilterObject, f)) {
      this.objects[first] = f;
      return;
    }
    const more = on.more.get(handle);
    const at = more ? this.filterAt(more, f) : -1;
    if (at >= 0) this.objects[more![at]!] = f;
    else if (more) more.push(this.objects.push(f) - 1);
    else on.more.set(handle, [this.objects.push(f) - 1]);
  }

  private findFilter(on: FilterIndex, f: FilterObject): number | undefined {
    const handle = deviceId.filter(f);
    const first = on.first.get(handle);
    if (first === undefined) return undefined;
    if (sameFilterRest(this.objects[first] as FilterObject, f)) return first;
    const more = on.more.get(handle);
    const at = more ? this.filterAt(more, f) : -1;
    return at >= 0 ? more![at] : undefined;
  }

  /**
   * The filters on the qdisc `f` hangs from (by its parent's major: a small integer, where
   * the whole parent of an ingress filter is above 2^31). A qdisc's filters come one after
   * another: one map lookup per run, not per filter.
   */
  private filtersOn(d: DeviceIndex, f: FilterObject, create: boolean): FilterIndex | undefined {
    const major = majorOf(f.parent);
    const last = this.lastFilters;
    if (last !== undefined && last.device === d && last.major === major) return last.index;
    let index = d.filters.get(major);
    if (index === undefined && create) d.filters.set(major, (index = { first: new Map(), more: new Map() }));
    if (index !== undefined) this.lastFilters = { device: d, major, index };
    return index;
  }

  /**
   * Where among the positions of filters sharing a handle the one with `f`'s identity
   * is; -1 if none. A loop, not findIndex with a closure: this runs once per observed
   * and per desired filter.
   */
  private filterAt(positions: readonly number[], f: FilterObject): number {
    for (let i = 0; i < positions.length; i++) if (sameFilterRest(this.objects[positions[i]!] as FilterObject, f)) return i;
    return -1;
  }

  private device(netns: string, dev: string, create: boolean): DeviceIndex | undefined {
    // A device's tc objects come one after another: two map lookups per run, not per object.
    if (this.last !== undefined && dev === this.last.dev && netns === this.last.netns) return this.last.index;
    const index = this.lookUpDevice(netns, dev, create);
    if (index !== undefined) this.last = { netns, dev, index };
    return index;
  }

  private lookUpDevice(netns: string, dev: string, create: boolean): DeviceIndex | undefined {
    let devs = this.devices.get(netns);
    if (!devs) {
      if (!create) return undefined;
      devs = new Map();
      this.devices.set(netns, devs);
    }
    let d = devs.get(dev);
    if (!d && create) {
      d = { qdiscs: new Map(), classes: new Map(), filters: new Map() };
      devs.set(dev, d);
    }
    return d;
  }
}

/**
 * Which positions of an ObservedIndex one matching met: a byte per position, made after
 * every add, apart from the index so that the index can be shared by many matchings.
 */
export class Matches {
  private readonly met: Uint8Array;

  constructor(index: ObservedIndex) {
    this.met = new Uint8Array(index.size);
  }

  /** Marks the object at `at` matched; whether it was not already. */
  once(at: number): boolean {
    if (this.met[at] === 1) return false;
    this.met[at] = 1;
    return true;
  }
}

/**
 * Positions in `objects` of one type's objects, by identity. Keyed by the identity's
 * first part, as the objects' own strings: V8 keeps a string's hash in it, so a lookup
 * hashes nothing new, where building an objectKey string per object and hashing it was
 * most of a no-op diff. A first part several objects hold gets a map by the rest.
 */
class PartIndex<O extends KernelObject> {
  private readonly byFirst = new Map<string, number | Map<string, number>>();

  constructor(
    private readonly objects: KernelObject[],
    private readonly identity: PartIdentity<O>,
  ) {}

  /**
   * Adds `o`, whose identity starts with `first`, or puts it in place of the object with
   * its identity (the last one counts). The caller reads `first` with the type's own
   * IDENTITY entry: one call site per type, which V8 inlines, where one shared call here
   * would see every type's function.
   */
  add(o: O, first: string): void {
    const entry = this.byFirst.get(first);
    if (entry === undefined) {
      this.byFirst.set(first, this.objects.push(o) - 1);
      return;
    }
    let byRest: Map<string, number>;
    if (typeof entry === 'number') {
      const held = this.objects[entry] as O;
      if (this.identity.sameRest(held, o)) {
        this.objects[entry] = o;
        return;
      }
      byRest = new Map<string, number>().set(this.identity.rest(held), entry);
      this.byFirst.set(first, byRest);
    } else byRest = entry;
    const rest = this.identity.rest(o);
    const at = byRest.get(rest);
    if (at === undefined) byRest.set(rest, this.objects.push(o) - 1);
    else this.objects[at] = o;
  }

  /** The position of the object with the identity of `o`, which starts with `first`. */
  find(o: O, first: string): number | undefined {
    const entry = this.byFirst.get(first);
    if (entry === undefined) return undefined;
    if (typeof entry === 'number') return this.identity.sameRest(this.objects[entry] as O, o) ? entry : undefined;
    return entry.get(this.identity.rest(o));
  }

  /** Whether an object whose identity starts with `first` was added (all of it, for a one-part identity). */
  hasFirst(first: string): boolean {
    return this.byFirst.has(first);
  }
}
