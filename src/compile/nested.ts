// The shared trees of a policy with groups. Each group is a leaf class of its parent's
// HTB (rate = its guarantee, ceil = its ceiling, prio = its priority, quantum ∝ its
// guarantee among its siblings) whose leaf qdisc is an HTB of its own, holding its
// members' classes under a root class at the link's rate: the group's ceiling is
// enforced once, by its class above. In one HTB a leaf's priority and quantum decide at
// every level and inner classes' are ignored, so groups as inner classes would share
// the excess by their members' priorities and by how many of them send; as leaves of
// their own HTB they share it by their own (docs/decisions.md, "Groups: a nested HTB per
// group", measured by bench/groupRendering). Pure.
//
// Numbering: every node's slot (src/shape/naming.ts) is its class minor in its parent's
// HTB and the major of its leaf qdisc, so a group's HTB is <slot>: and its members'
// classes <slot>:<their slot>. Each HTB classifies with its own u32 address tables: the
// root's send every container to the class of its top-level group (or its own), a
// group's to the class of its child on the way to the container.

import { makeHandle, type TcHandle } from '../tc/handle';
import { parseSubnet } from '../net/ipv4';
import type { Direction, HtbClassSpec, QdiscSpec, U32Key } from '../tc/model';
import type { BitsPerSec } from '../units/units';
import { guaranteeOf, type GroupNode, type NodeRates, type ShapeTree } from '../shape/model';
import { GuaranteeRange, HtbClassSpecs, htbQdisc } from './htb';
import {
  addAddress6Filters,
  addAddressFilters,
  addressFilterCount,
  address6Table,
  addressTable,
  addTreeRoot,
  classSpecs,
  emptyAddress6Table,
  emptyAddressTable,
  innerRootSpec,
  ROOT_MAJOR,
  ROOT_MINOR,
  sharedNumbers,
  type Address6Table,
  type AddressTable,
  type Device,
  type TcCounts,
  type TcSink,
} from './trees';

/** One HTB of the tree: the root's (scope 0) or a group's (scope 1 + its index). */
interface Scope {
  readonly qdisc: TcHandle;
  /** The class its children hang from. */
  readonly rootClass: TcHandle;
  /** Indices into tree.groups and tree.containers of its children. */
  readonly groups: number[];
  readonly containers: number[];
  v4: AddressTable;
  v6: Address6Table;
}

/** What both directions' trees share: each node's class id and each HTB's children and address tables. */
export interface GroupedLayout {
  /** In tree.containers order. */
  readonly containerClass: readonly TcHandle[];
  /** In tree.groups order. */
  readonly groupClass: readonly TcHandle[];
  /** Each container's leaf qdisc handle (<slot>:), in tree.containers order. */
  readonly leaves: readonly TcHandle[];
  readonly scopes: readonly Scope[];
  /** The scope (index into scopes) each container is a child of, in tree.containers order. */
  readonly containerScope: Int32Array;
}

/** A group's HTB never classifies by default: a packet no member's filter claims (none should) goes through its direct queue, still within the group's class. */
const NO_DEFAULT_MINOR = 0;

export function groupedLayout(tree: ShapeTree): GroupedLayout {
  const { groups, containers } = tree;
  const scopeOf = new Map<GroupNode, number>(groups.map((g, i) => [g, i + 1]));
  const scopeAbove = (parent: GroupNode | undefined): number => (parent === undefined ? 0 : scopeOf.get(parent)!);
  const scopes: Scope[] = [{ qdisc: makeHandle(ROOT_MAJOR, 0), rootClass: makeHandle(ROOT_MAJOR, ROOT_MINOR), groups: [], containers: [], v4: emptyAddressTable, v6: emptyAddress6Table }];
  for (const g of groups) scopes.push({ qdisc: makeHandle(g.slot, 0), rootClass: makeHandle(g.slot, ROOT_MINOR), groups: [], containers: [], v4: emptyAddressTable, v6: emptyAddress6Table });
  const majorOf = (parent: GroupNode | undefined): number => (parent === undefined ? ROOT_MAJOR : parent.slot);
  // The scope each group is in, found once by its parent: the walks up below read these,
  // not the map (it was three lookups per container at depth 1).
  const groupScope = new Int32Array(groups.length);
  const groupClass = groups.map((g, i) => {
    groupScope[i] = scopeAbove(g.parent);
    scopes[groupScope[i]!]!.groups.push(i);
    return makeHandle(majorOf(g.parent), g.slot);
  });
  const v6 = scopes.map(() => ({ addresses: [] as string[], classids: [] as number[] }));
  const containerClass = new Array<TcHandle>(containers.length);
  const leaves = sharedNumbers<TcHandle>(containers.length);
  const containerScope = new Int32Array(containers.length);
  // Each container classified by IPv4 address: its scope (-1: none) and address, for
  // the address tables' entries below, made at their size.
  const addressScope = new Int32Array(containers.length).fill(-1);
  const address4 = new Int32Array(containers.length);
  const entries4 = new Uint32Array(scopes.length);
  // One indexed pass over the containers for all they need here: this runs once per
  // compile, mostly before V8 optimises it, where each pass over 10,000 containers costs
  // its loop's overhead again (it was three: map, forEach, map).
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    const inScope = scopeAbove(c.parent);
    scopes[inScope]!.containers.push(i);
    containerScope[i] = inScope;
    const classid = makeHandle(majorOf(c.parent), c.slot);
    containerClass[i] = classid;
    leaves[i] = makeHandle(c.slot, 0);
    if (c.policy.match.kind === 'cgroup') continue;
    if (c.address4 >= 0) {
      addressScope[i] = inScope;
      address4[i] = c.address4 | 0;
    }
    let child = classid;
    for (let scope = inScope; ; ) {
      if (c.address4 >= 0) entries4[scope]!++;
      if (c.address6 !== undefined) {
        v6[scope]!.addresses.push(c.address6);
        v6[scope]!.classids.push(child);
      }
      if (scope === 0) break;
      child = groupClass[scope - 1]!;
      scope = groupScope[scope - 1]!;
    }
  }
  const v4 = addressEntries(entries4, addressScope, address4, containerClass, groupClass, groupScope);
  scopes.forEach((s, i) => {
    const from = v4.start[i]!;
    const to = from + entries4[i]!;
    if (to > from) s.v4 = addressTable(v4.addresses.subarray(from, to), v4.classids.subarray(from, to), v4.owners.subarray(from, to));
    s.v6 = v6[i]!.addresses.length === 0 ? emptyAddress6Table : address6Table(v6[i]!.addresses, v6[i]!.classids);
  });
  return { containerClass, groupClass, leaves, scopes, containerScope };
}

/**
 * Every HTB's IPv4 address entries (address, class id, owner), scope after scope in
 * one set of typed arrays made at their size (`entries`: how many each scope has): a
 * container below an HTB leads to the class of its child on the way. Number lists grown
 * by push left their earlier copies as garbage: 2.1 MB of 5.4 allocated by groupedLayout
 * at 10,000 containers in 100 groups. `start`: where each scope's entries begin.
 */
function addressEntries(entries: Uint32Array, scopeOf: Int32Array, address4: Int32Array, containerClass: readonly TcHandle[], groupClass: readonly TcHandle[], groupScope: Int32Array): { addresses: Int32Array; classids: Uint32Array; owners: Uint32Array; start: Uint32Array } {
  const at = new Uint32Array(entries.length);
  let total = 0;
  for (let s = 0; s < entries.length; s++) at[s] = total += entries[s]!;
  // Filled from each scope's end down, in container order: `at` ends at each scope's start.
  // Each address's bits as an int32: a small integer to V8, copied without a heap number.
  const addresses = new Int32Array(total);
  const classids = new Uint32Array(total);
  const owners = new Uint32Array(total);
  for (let i = scopeOf.length - 1; i >= 0; i--) {
    let child = containerClass[i]!;
    for (let scope = scopeOf[i]!; scope >= 0; ) {
      const k = --at[scope]!;
      addresses[k] = address4[i]!;
      classids[k] = child;
      owners[k] = i;
      if (scope === 0) break;
      child = groupClass[scope - 1]!;
      scope = groupScope[scope - 1]!;
    }
  }
  return { addresses, classids, owners, start: at };
}

/** What addGroupedTree adds: addTreeRoot's two classes and qdiscs; a class, HTB and root class per group; a class and leaf per container; each HTB's address filters. */
export function groupedCounts(layout: GroupedLayout): TcCounts {
  const groups = layout.groupClass.length;
  const containers = layout.containerClass.length;
  let filters = 0;
  for (const s of layout.scopes) filters += addressFilterCount(s.v4, s.v6);
  return { qdiscs: 2 + groups + containers, classes: 2 + 2 * groups + containers, filters };
}

/** One direction's tree of a policy with groups, added to `t`. */
export function addGroupedTree(t: TcSink, d: Device, direction: Direction, capacity: BitsPerSec, subnet: string, tree: ShapeTree, layout: GroupedLayout, leafSpec: QdiscSpec): void {
  const { scopes } = layout;
  // Immutable, so one object serves every group: its HTB and the root class in it.
  const shared: ScopeSpecs = { groupHtb: htbQdisc(NO_DEFAULT_MINOR), groupRoot: innerRootSpec(capacity), leafSpec, specsByBase: new Map() };
  const bases = scopeBases(tree, layout, direction, capacity);
  const scopeSpecs = bases.map((base) => specsFor(shared, base));
  // Each container's spec, made in container order: the per-HTB loops below visit the
  // containers group by group (c0, c100, c200, … at 100 groups), and reading each one's
  // policy there missed the cache at nearly every container: its object, its bandwidth,
  // its direction, each a load waiting on the one before (perf annotate: most of
  // addContainerClasses' 9 ms, against 2 ms in container order, flat). One list of specs,
  // not columns of the rates of both trees (0.6 MB less at 10,000 containers).
  const containerSpecs = classSpecs(tree.containers, direction, scopeSpecs, layout.containerScope);
  for (let s = 0; s < scopes.length; s++) addScopeClasses(t, d, capacity, tree, layout, s, shared, bases[s]!, scopeSpecs[s]!, direction, containerSpecs);
  addScopeFilters(t, d, direction, subnet, tree, scopes);
}

/** The specs every scope of one tree shares: each group's HTB, the root class in it, each container's leaf, and the class specs by quantum base. */
interface ScopeSpecs {
  readonly groupHtb: QdiscSpec;
  readonly groupRoot: HtbClassSpec;
  readonly leafSpec: QdiscSpec;
  /**
   * One set of class specs per quantum base, not per HTB: a spec is a function of the
   * rates and the base, and sibling sets of like guarantees have the same base (all 100
   * groups of the benchmark), so their classes of equal rates share one spec, as a
   * flat tree's do. Per HTB, 100 groups made 1,600 specs (and their Maps) instead of 16.
   */
  readonly specsByBase: Map<BitsPerSec, HtbClassSpecs>;
}

function specsFor(shared: ScopeSpecs, base: BitsPerSec): HtbClassSpecs {
  let specs = shared.specsByBase.get(base);
  if (specs === undefined) {
    specs = new HtbClassSpecs(base);
    shared.specsByBase.set(base, specs);
  }
  return specs;
}

/**
 * One HTB's own classes: its root (and default) class, and a class per child, each
 * group's with its HTB below it and each container's with its leaf. Small functions,
 * one loop each, called per HTB: V8 optimises each once, from the first HTBs, for both
 * trees. As one function of nested loops it was compiled on the stack (OSR) twice per
 * compile, 27 + 16 ms of TurboFan's time for 100 groups, while the loops ran unoptimised.
 */
function addScopeClasses(t: TcSink, d: Device, capacity: BitsPerSec, tree: ShapeTree, layout: GroupedLayout, s: number, shared: ScopeSpecs, base: BitsPerSec, specs: HtbClassSpecs, direction: Direction, containerSpecs: readonly HtbClassSpec[]): void {
  const scope = layout.scopes[s]!;
  // A group's own HTB and its root class (the qdisc was added with the group's class, in its parent's scope).
  if (s === 0) addTreeRoot(t, d, capacity, base, shared.leafSpec);
  else t.classes.push({ type: 'class', netns: d.netns, dev: d.dev, classid: scope.rootClass, parent: scope.qdisc, spec: shared.groupRoot });
  addGroupClasses(t, d, direction, tree, layout, scope, specs, shared.groupHtb);
  addContainerClasses(t, d, layout, containerSpecs, scope, shared.leafSpec);
}

/** Each HTB's quantumBase of its children's guarantees (what its quanta are scaled among), the containers read in their order. */
function scopeBases(tree: ShapeTree, layout: GroupedLayout, direction: Direction, capacity: BitsPerSec): BitsPerSec[] {
  const { scopes, containerScope } = layout;
  const ranges = scopes.map(() => new GuaranteeRange());
  for (let s = 0; s < scopes.length; s++) {
    const { groups } = scopes[s]!;
    for (let k = 0; k < groups.length; k++) ranges[s]!.add(rates(tree.groups[groups[k]!]!, direction).guarantee);
  }
  const { containers } = tree;
  for (let i = 0; i < containers.length; i++) ranges[containerScope[i]!]!.add(guaranteeOf(containers[i]!, direction));
  return ranges.map((r) => r.quantumBase(capacity));
}

/** Each child group's class in this HTB, and the group's own HTB below it. */
function addGroupClasses(t: TcSink, d: Device, direction: Direction, tree: ShapeTree, layout: GroupedLayout, scope: Scope, specs: HtbClassSpecs, groupHtb: QdiscSpec): void {
  const { netns, dev } = d;
  const { groups } = scope;
  for (let k = 0; k < groups.length; k++) {
    const i = groups[k]!;
    const r = rates(tree.groups[i]!, direction);
    const classid = layout.groupClass[i]!;
    t.classes.push({ type: 'class', netns, dev, classid, parent: scope.rootClass, spec: specs.ofRates(r.guarantee, r.ceiling, r.priority, r.burst) });
    t.qdiscs.push({ type: 'qdisc', netns, dev, handle: layout.scopes[i + 1]!.qdisc, parent: classid, spec: groupHtb });
  }
}

/** Each child container's class in this HTB and its leaf. */
function addContainerClasses(t: TcSink, d: Device, layout: GroupedLayout, specs: readonly HtbClassSpec[], scope: Scope, leafSpec: QdiscSpec): void {
  const { netns, dev } = d;
  const { containers } = scope;
  for (let k = 0; k < containers.length; k++) {
    const i = containers[k]!;
    const classid = layout.containerClass[i]!;
    t.classes.push({ type: 'class', netns, dev, classid, parent: scope.rootClass, spec: specs[i]! });
    t.qdiscs.push({ type: 'qdisc', netns, dev, handle: layout.leaves[i]!, parent: classid, spec: leafSpec });
  }
}

/**
 * Each HTB's address filters. A function of its own, as the classes are: V8 compiles a
 * loop on the stack (OSR) while code after it has not run yet, and code reaching a part
 * without type feedback is thrown away and compiled again, whole.
 */
function addScopeFilters(t: TcSink, d: Device, direction: Direction, subnet: string, tree: ShapeTree, scopes: readonly Scope[]): void {
  // Tagged elements from the start (filled), so that both trees' lists have the same map:
  // a new Array(n) holds small integers until its first store, so the download tree's
  // optimised filter loop met a list of another map in the upload tree, was thrown away
  // ("wrong map") and compiled on the stack again.
  const keys = new Array<readonly U32Key[] | undefined>(tree.containers.length).fill(undefined);
  const parsed = parseSubnet(subnet);
  for (let s = 0; s < scopes.length; s++) {
    addAddressFilters(t.filters, d, scopes[s]!.qdisc, direction, parsed, scopes[s]!.v4, keys);
    addAddress6Filters(t.filters, d, scopes[s]!.qdisc, direction, scopes[s]!.v6);
  }
}

/**
 * A group's rates of one direction. Both directions are read, and one picked: code
 * optimised while the download tree was built, with a read that had never run (the
 * upload one), was thrown away when the upload tree reached it.
 */
function rates(g: GroupNode, direction: Direction): NodeRates {
  const { download, upload } = g;
  return direction === 'download' ? download : upload;
}

