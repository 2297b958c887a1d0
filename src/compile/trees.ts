// HTB trees: one per direction on the shared path (bridge egress for download, the IFB
// for upload), or one small tree per container device in per-device mode. One function
// per tree shape, parameterised by direction, so the two directions cannot drift apart.

import { makeHandle, TC_H_INGRESS, TC_H_ROOT, type TcHandle } from '../tc/handle';
import {
  ETH_P_ALL,
  type ClassObject,
  type Direction,
  type FilterObject,
  type HtbClassSpec,
  type NetnsLocator,
  type QdiscKind,
  type QdiscObject,
  type QdiscSpec,
  type U32Key,
} from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { htbClass, htbQdisc, MIN_RATE, quantumBase, type ClassRates, type HtbClassSpecs } from './htb';
import type { ContainerNode } from '../shape/model';
import { maskOf, parseSubnet, type Subnet } from '../net/ipv4';
import { parseIpv6, parsePlainIpv6Into } from '../net/ipv6';
import { SizedList } from './sizedList';

export const ROOT_MAJOR = 1;
/** The minors of a tree's own classes, below every node's slot (src/shape/naming.ts): its root class and its default class. */
export const ROOT_MINOR = 0x1;
export const DEFAULT_MINOR = 0x2;
export const INGRESS_MAJOR = 0xffff;
/** u32: the hash tables of container addresses (IPv4, IPv6), and the filter priorities. */
const ADDRESS_TABLE = 0x2;
const ADDRESS6_TABLE = 0x6;
/** The root hash table of every u32 instance; the kernel numbers it 800: for the first instance on a qdisc. */
export const U32_ROOT_TABLE = 0x800;
export const CGROUP_FILTER_PRIO = 5;
export const ADDRESS_FILTER_PRIO = 10;
const REDIRECT_FILTER_PRIO = 1;
/** IPv4 header offsets of the source and destination address. */
export const SRC_OFFSET = 12;
export const DST_OFFSET = 16;
/** IPv6 header offsets of the source and destination address (four words each). */
export const SRC6_OFFSET = 8;
export const DST6_OFFSET = 24;
/** The version nibble, first in both headers: one u32 filter instance sees both families. */
export const VERSION_MASK = 0xf0000000;
export const IPV4_VERSION = 0x40000000;
export const IPV6_VERSION = 0x60000000;

/**
 * The mask of a key that matches a whole word. One number for every key: above 2^31 it
 * is a heap number to V8, and the literal in the loops made up to one per key (7,000–10,000
 * alive at 10,000 containers).
 */
const WHOLE_WORD = 0xffffffff;

/** The key that selects one family by its version nibble. */
export const versionKey = (version: typeof IPV4_VERSION | typeof IPV6_VERSION): U32Key => ({ value: version, mask: VERSION_MASK, off: 0 });

/** An IPv6 prefix at header offset `off` as u32 keys, one per word the prefix covers. */
export function prefixKeys6(words: readonly number[], prefix: number, off: number): U32Key[] {
  const keys: U32Key[] = [];
  for (let w = 0; w * 32 < prefix; w++) {
    const mask = maskOf(Math.min(32, prefix - 32 * w));
    keys.push({ value: (words[w]! & mask) >>> 0, mask, off: off + 4 * w });
  }
  return keys;
}

/**
 * One object of each tc shape whose number fields also hold numbers above 2^31 (the
 * handles root, ffff: and 800::800; addresses and masks in u32 keys; the class id
 * ffff:1 of the port hooks' pass node, a classifier spec like an address's), made when this
 * module loads, before any other, with `undefined` in those fields. V8 keeps one
 * representation per field of an object shape: a field that has held only numbers, one
 * of them above 2^31, is a double field, and every object of the shape then has a heap
 * number of its own for it, even for 1:. A field that has held `undefined` is tagged:
 * small integers sit in the object and only large numbers are heap numbers. Alive after
 * a compile of 10,000 containers in 100 groups: 92,000 heap numbers instead of 204,000
 * (each qdisc and address filter had two boxes), flat 87,000 instead of 160,000: fewer
 * objects for the garbage collector to copy. The classifier spec (kind, keys, classid):
 * the port hooks' ffff:1, made between the two trees, turned the field double after the
 * download tree's address filters were made; each of those was then migrated on its
 * first read in the diff, and every later spec had a box of its own (22,000 migrations
 * and 40,000 boxes at 10,000 containers in 100 groups).
 * The literals' keys are those of the objects made below and in the kernel port's
 * decoder, in the same order (that is what makes them one shape). Kept alive: V8 drops
 * a shape that no object has.
 */
export const TAGGED_FIELDS: readonly object[] = [
  { type: 'qdisc', netns: '', dev: '', handle: undefined, parent: undefined, spec: undefined },
  { type: 'filter', netns: '', dev: '', parent: undefined, prio: 0, protocol: 0, handle: undefined, spec: undefined },
  { value: undefined, mask: undefined, off: 0 },
  { kind: 'u32', keys: [], classid: undefined },
];

export interface TcObjects {
  qdiscs: QdiscObject[];
  classes: ClassObject[];
  filters: FilterObject[];
}

export const emptyTc = (): TcObjects => ({ qdiscs: [], classes: [], filters: [] });

/** Where a tree's objects are added: appended in order. */
export interface TcList<T> {
  push(item: T): void;
}

/** The lists the shared trees are added to (TcLists, or the arrays of TcObjects). */
export interface TcSink {
  readonly qdiscs: TcList<QdiscObject>;
  readonly classes: TcList<ClassObject>;
  readonly filters: TcList<FilterObject>;
}

/** How many objects of each kind a set of lists will hold. */
export interface TcCounts {
  readonly qdiscs: number;
  readonly classes: number;
  readonly filters: number;
}

const MISCOUNTED = 'the counts in trees.ts/nested.ts (flatCounts, groupedCounts) must follow what the trees add';

/** The lists of both shared trees, each made at its size when `counts` is given. */
export class TcLists implements TcSink {
  readonly qdiscs: SizedList<QdiscObject>;
  readonly classes: SizedList<ClassObject>;
  readonly filters: SizedList<FilterObject>;

  constructor(counts: TcCounts | undefined) {
    this.qdiscs = new SizedList(counts?.qdiscs, MISCOUNTED);
    this.classes = new SizedList(counts?.classes, MISCOUNTED);
    this.filters = new SizedList(counts?.filters, MISCOUNTED);
  }

  filled(): TcObjects {
    return { qdiscs: this.qdiscs.filled(), classes: this.classes.filled(), filters: this.filters.filled() };
  }
}

/**
 * The containers' classes in one tree, by container: class id, leaf qdisc handle and
 * HTB spec. Arrays, not an object per container and tree (20,000 at 10,000 containers,
 * alive until both trees are built); the handles are the same in both trees, made once.
 */
export interface TreeClasses {
  readonly classids: readonly TcHandle[];
  /** The handle of each class's leaf qdisc: its minor as major (minor:). */
  readonly leaves: readonly TcHandle[];
  readonly specs: readonly HtbClassSpec[];
  /** The quantumBase the specs were made with, for the tree's own classes. */
  readonly quantumBase: BitsPerSec;
}

/**
 * The containers classified by address, as parallel arrays in the order the u32 hash
 * table lists them: ascending address, equal addresses in the order given.
 */
export interface AddressTable {
  /** Each address, read by both trees (sharedNumbers). */
  readonly ips: readonly number[];
  /** Each address's class id (a u32, as TcHandle). */
  readonly classids: Uint32Array;
  /** Each address's owner (a container's index), when the table was given them. */
  readonly owners: Uint32Array | undefined;
}

/**
 * An array for a number per container that both trees read (a leaf's handle, an
 * address), whose elements hold each number as it is: a small integer in place, one
 * above 2^31 as one heap number that both trees' objects share. Filled with `undefined`
 * first so that V8 gives it tagged elements. An array of numbers that has held one above
 * 2^31 stores them all as raw doubles, and each read made a heap number of its own,
 * small value or not (as each read above 2^31 from a Uint32Array does): at 10,000
 * containers in 100 groups, 20,000 leaf handles and 20,000 address keys' values were
 * heap numbers, now about 5,000 and 10,000.
 */
export const sharedNumbers = <N extends number>(n: number): N[] => new Array<N | undefined>(n).fill(undefined) as N[];

/** Sort keys are address · 2^21 + index: exact below 2^53 for any IPv4 address. */
const ADDRESS_INDEX_LIMIT = 2 ** 21;
/** Flips the top bit: the order of u32s as int32s. */
const SIGN_BIT = -0x80000000;

/**
 * The address table of parallel arrays: each entry's IPv4 address (as a number, parsed
 * once in the shaping tree) and class id. Built once for both trees. `addresses`: each a
 * u32, or its bits as an int32 (an Int32Array's elements are small integers to V8,
 * read without a heap number each).
 */
export function addressTable(addresses: ArrayLike<number>, classidsGiven: ArrayLike<number>, ownersGiven?: ArrayLike<number>): AddressTable {
  const n = addresses.length;
  if (n >= ADDRESS_INDEX_LIMIT) throw new RangeError(`${n} addressed containers is more than one u32 table holds`);
  const order = byAddress(addresses);
  // The result is made before the loop, not returned as a literal after it: V8 compiles
  // this function on the stack while the first (largest) table's loop runs (OSR), and
  // that code, meeting a literal that had never run, was thrown away on reaching it,
  // and again on every later call, which enters the loop through the same code (83
  // times for 100 groups' tables).
  const ips = sharedNumbers(n);
  const table: AddressTable = { ips, classids: new Uint32Array(n), owners: ownersGiven === undefined ? undefined : new Uint32Array(n) };
  const { classids, owners } = table;
  for (let k = 0; k < n; k++) {
    const index = order[k]!;
    ips[k] = addresses[index]! >>> 0;
    classids[k] = classidsGiven[index]!;
    if (owners !== undefined) owners[k] = ownersGiven![index]!;
  }
  return table;
}

/**
 * The indices of `addresses` by ascending address, equal ones in index order: sorted
 * natively as numbers (no comparator calls), each (address - lowest) · n + index, an
 * integer below 2^31 when the addresses span a subnet's range (a /16 of 32,000), else
 * address · 2^21 + index as a double. The integers stay small integers to V8 where
 * this runs unoptimised, where each step of the doubles made a heap number: 1 MB of
 * addressTable's 1.8 at 10,000 containers in 100 groups.
 */
function byAddress(addresses: ArrayLike<number>): Int32Array {
  const n = addresses.length;
  let lowest = 0x7fffffff;
  let highest = SIGN_BIT;
  for (let i = 0; i < n; i++) {
    const flipped = addresses[i]! ^ SIGN_BIT;
    if (flipped < lowest) lowest = flipped;
    if (flipped > highest) highest = flipped;
  }
  const order = new Int32Array(n);
  if (n > 0 && (highest - lowest + 1) * n <= 0x7fffffff) {
    for (let i = 0; i < n; i++) order[i] = ((addresses[i]! ^ SIGN_BIT) - lowest) * n + i;
    order.sort();
    for (let k = 0; k < n; k++) order[k] = order[k]! % n;
    return order;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (addresses[i]! >>> 0) * ADDRESS_INDEX_LIMIT + i;
  keys.sort();
  for (let k = 0; k < n; k++) order[k] = keys[k]! % ADDRESS_INDEX_LIMIT;
  return order;
}

/**
 * The containers classified by IPv6 address: four words per address, in the order the
 * IPv6 hash table lists them (ascending last word, equal ones in the order given).
 */
export interface Address6Table {
  readonly words: Uint32Array;
  readonly classids: Uint32Array;
}

/** The IPv6 address table of parallel arrays (canonical address, class id), built once for both trees. */
export function address6Table(addresses6: readonly string[], classidsGiven: ArrayLike<number>): Address6Table {
  const n = addresses6.length;
  if (n >= ADDRESS_INDEX_LIMIT) throw new RangeError(`${n} IPv6-addressed containers is more than one u32 table holds`);
  const given = new Uint32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const text = addresses6[i]!;
    if (!parsePlainIpv6Into(text, given, 4 * i)) given.set(parseIpv6(text) ?? [0, 0, 0, 0], 4 * i);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = given[4 * i + 3]! * ADDRESS_INDEX_LIMIT + i;
  keys.sort();
  const words = new Uint32Array(4 * n);
  const classids = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const index = keys[k]! % ADDRESS_INDEX_LIMIT;
    words.set(given.subarray(4 * index, 4 * index + 4), 4 * k);
    classids[k] = classidsGiven[index]!;
  }
  return { words, classids };
}

export const emptyAddress6Table: Address6Table = { words: new Uint32Array(0), classids: new Uint32Array(0) };
export const emptyAddressTable: AddressTable = { ips: [], classids: new Uint32Array(0), owners: undefined };

/**
 * Each container's class spec in one direction's tree, equal ones shared, from the
 * specs of the HTB it is in (`specs[scopeOf[i]]`; the only one without `scopeOf`). Named
 * reads, not p.policy.bandwidth[dir]: V8 optimised the keyed reads for 'download' and
 * threw that code away when the upload tree asked for 'upload'.
 */
export function classSpecs(nodes: readonly ContainerNode[], dir: Direction, specs: readonly HtbClassSpecs[], scopeOf?: Int32Array): HtbClassSpec[] {
  const out = new Array<HtbClassSpec>(nodes.length);
  if (dir === 'download') {
    for (let i = 0; i < nodes.length; i++) {
      const p = nodes[i]!;
      const b = p.policy.bandwidth.download;
      out[i] = specs[scopeOf === undefined ? 0 : scopeOf[i]!]!.ofRates(p.downloadGuarantee, b.ceiling, b.priority, b.burst);
    }
  } else {
    for (let i = 0; i < nodes.length; i++) {
      const p = nodes[i]!;
      const b = p.policy.bandwidth.upload;
      out[i] = specs[scopeOf === undefined ? 0 : scopeOf[i]!]!.ofRates(p.uploadGuarantee, b.ceiling, b.priority, b.burst);
    }
  }
  return out;
}

export interface Device {
  readonly netns: NetnsLocator;
  readonly dev: string;
}

export const u32Handle = (table: number, bucket: number, node: number): number => ((table << 20) | (bucket << 12) | node) >>> 0;

export function leafQdiscSpec(kinds: readonly QdiscKind[]): QdiscSpec {
  // Bridge and IFB devices have a tiny txqueuelen, so the default leaf would drop under
  // contention; an explicit leaf with a real queue keeps TCP out of loss.
  if (kinds.includes('fq_codel')) return { kind: 'fq_codel' };
  if (kinds.includes('sfq')) return { kind: 'sfq', perturbSec: 10 };
  return { kind: 'pfifo', limitPackets: 1000 };
}

// Objects are spelled out field by field rather than spread from `d`: on Node 20 an
// object literal built by spreading another is several times slower, and a compile of
// 10,000 containers builds 60,000 of these.

function leaf(d: Device, minor: number, spec: QdiscSpec): QdiscObject {
  return leafUnder(d, makeHandle(ROOT_MAJOR, minor), minor, spec);
}

/** The leaf qdisc `minor`: under the class `classid` (of the same minor). */
function leafUnder(d: Device, classid: TcHandle, minor: number, spec: QdiscSpec): QdiscObject {
  return { type: 'qdisc', netns: d.netns, dev: d.dev, handle: makeHandle(minor, 0), parent: classid, spec };
}

function htbClassObject(d: Device, minor: number, parentMinor: number, spec: HtbClassSpec): ClassObject {
  return classObject(d, makeHandle(ROOT_MAJOR, minor), makeHandle(ROOT_MAJOR, parentMinor), spec);
}

function classObject(d: Device, classid: TcHandle, parent: TcHandle, spec: HtbClassSpec): ClassObject {
  return { type: 'class', netns: d.netns, dev: d.dev, classid, parent, spec };
}

/**
 * The shared tree of one direction: root class at link capacity, a default class for
 * traffic no container claims, one class + leaf per container, and a u32 hash table
 * on the last octet of the container address (source for upload, destination for
 * download) so classification is one lookup, not a walk through every filter. Added to
 * `t`, the lists of both trees, rather than returned and copied into them.
 */
export function addSharedTree(t: TcSink, d: Device, direction: Direction, capacity: BitsPerSec, subnet: string, members: TreeClasses, addresses: AddressTable, addresses6: Address6Table, leafSpec: QdiscSpec): void {
  addTreeRoot(t, d, capacity, members.quantumBase, leafSpec);
  const rootClass = makeHandle(ROOT_MAJOR, ROOT_MINOR);
  const { classids, leaves, specs } = members;
  const { netns, dev } = d;
  // An indexed loop with the objects spelled out in it, handles made by the caller: this
  // runs once per compile, mostly before V8 optimises it, where for-of allocates an
  // iterator result per element and each call (a helper, a handle check) costs 35–60 ns.
  for (let i = 0; i < classids.length; i++) {
    const classid = classids[i]!;
    t.classes.push({ type: 'class', netns, dev, classid, parent: rootClass, spec: specs[i]! });
    t.qdiscs.push({ type: 'qdisc', netns, dev, handle: leaves[i]!, parent: classid, spec: leafSpec });
  }
  const rootQdisc = makeHandle(ROOT_MAJOR, 0);
  addAddressFilters(t.filters, d, rootQdisc, direction, parseSubnet(subnet), addresses);
  addAddress6Filters(t.filters, d, rootQdisc, direction, addresses6);
}

/**
 * A device's root HTB: the qdisc, its root class at the link's capacity, and a default
 * class (and its leaf) for traffic no container claims, whose quantum is scaled among
 * the root's other children (`base`).
 */
export function addTreeRoot(t: TcSink, d: Device, capacity: BitsPerSec, base: BitsPerSec, leafSpec: QdiscSpec): void {
  t.qdiscs.push({ type: 'qdisc', netns: d.netns, dev: d.dev, handle: makeHandle(ROOT_MAJOR, 0), parent: TC_H_ROOT, spec: htbQdisc(DEFAULT_MINOR) });
  // The kernel sets a class's quantum only while it is a leaf (htb_change_class), so the
  // root's stays what it was created with: it must not follow the members' quantumBase.
  t.classes.push(htbClassObject(d, ROOT_MINOR, 0, innerRootSpec(capacity)));
  const defaultRate = bitsPerSec(Math.max(MIN_RATE, Math.round(capacity / 100)));
  t.classes.push(htbClassObject(d, DEFAULT_MINOR, ROOT_MINOR, htbClass({ rate: defaultRate, ceil: capacity, prio: 7 }, base)));
  t.qdiscs.push(leaf(d, DEFAULT_MINOR, leafSpec));
}

/** The spec of a class every other class of its HTB borrows from: the link, its quantum one largest packet (unused: it is inner). */
export const innerRootSpec = (capacity: BitsPerSec): HtbClassSpec => htbClass({ rate: capacity, ceil: capacity, prio: 0 }, quantumBase([], capacity));

/** Where a direction's classifiers read the container's address: the destination downloading, the source uploading. */
const offsetOf = (direction: Direction): number => (direction === 'download' ? DST_OFFSET : SRC_OFFSET);
const offset6Of = (direction: Direction): number => (direction === 'download' ? DST6_OFFSET : SRC6_OFFSET);

/** How many filters addAddressFilters and addAddress6Filters add for these tables. */
export const addressFilterCount = (v4: AddressTable, v6: Address6Table): number => (v4.ips.length > 0 ? 2 + v4.ips.length : 0) + (v6.classids.length > 0 ? 2 + v6.classids.length : 0);

/** What addSharedTree adds for `containers` classes: addTreeRoot's two classes and qdiscs, a class and leaf each, the address filters. */
export const flatCounts = (containers: number, v4: AddressTable, v6: Address6Table): TcCounts => ({ qdiscs: 2 + containers, classes: 2 + containers, filters: addressFilterCount(v4, v6) });

/**
 * The IPv4 address table's filters on the qdisc `parent`: a hash table on the last
 * octet, and the jump into it from the subnet. `sharedKeys`: each owner's key list (by
 * the table's owners), kept from one qdisc's table for the next: a grouped container's
 * address is in its group's table and its parents' with the same key (plain data, never
 * changed). An array by owner, not a map by address: addresses above 2^31 are heap
 * numbers to V8, and a Map keyed by them tripled this function's time.
 */
export function addAddressFilters(into: TcList<FilterObject>, d: Device, parent: TcHandle, direction: Direction, subnet: Subnet, addresses: AddressTable, sharedKeys?: (readonly U32Key[] | undefined)[]): void {
  const { ips, classids } = addresses;
  if (ips.length === 0) return;
  const offset = offsetOf(direction);
  into.push(addressFilter(d, parent, u32Handle(ADDRESS_TABLE, 0, 0), { kind: 'u32', divisor: 256, keys: [] }));
  into.push(
    addressFilter(d, parent, u32Handle(U32_ROOT_TABLE, 0, 0x800), {
      kind: 'u32',
      keys: [
        { value: IPV4_VERSION, mask: VERSION_MASK, off: 0 },
        { value: subnet.network, mask: maskOf(subnet.prefix), off: offset },
      ],
      link: u32Handle(ADDRESS_TABLE, 0, 0),
      hashKey: { mask: 0xff, off: offset },
    }),
  );
  const nodesInBucket = new Uint32Array(256);
  const owners = sharedKeys === undefined ? undefined : addresses.owners;
  for (let k = 0; k < ips.length; k++) {
    const ip = ips[k]!;
    const bucket = ip & 0xff;
    const node = ++nodesInBucket[bucket]!;
    let keys = owners === undefined ? undefined : sharedKeys![owners[k]!];
    if (keys === undefined) {
      keys = [{ value: ip, mask: WHOLE_WORD, off: offset }];
      if (owners !== undefined) sharedKeys![owners[k]!] = keys;
    }
    into.push(addressFilter(d, parent, u32Handle(ADDRESS_TABLE, bucket, node), { kind: 'u32', keys, classid: classids[k]! as TcHandle }));
  }
}

/**
 * The IPv6 addresses' hash table, on the last octet of the address as for IPv4 (a
 * managed container's IPv6 address ends in its IPv4 address; Docker and Kubernetes hand
 * out IPv6 addresses in sequence), reached from the root table by the IPv6 version
 * nibble alone: each entry matches the whole address, so no prefix needs checking first.
 */
export function addAddress6Filters(into: TcList<FilterObject>, d: Device, parent: TcHandle, direction: Direction, addresses6: Address6Table): void {
  const { words, classids } = addresses6;
  if (classids.length === 0) return;
  const offset = offset6Of(direction);
  into.push(addressFilter(d, parent, u32Handle(ADDRESS6_TABLE, 0, 0), { kind: 'u32', divisor: 256, keys: [] }));
  into.push(
    addressFilter(d, parent, u32Handle(U32_ROOT_TABLE, 0, 0x801), {
      kind: 'u32',
      keys: [{ value: IPV6_VERSION, mask: VERSION_MASK, off: 0 }],
      link: u32Handle(ADDRESS6_TABLE, 0, 0),
      hashKey: { mask: 0xff, off: offset + 12 },
    }),
  );
  const nodesInBucket = new Uint32Array(256);
  // Containers of one prefix share the keys of its first three words (plain data, never
  // changed): 10,000 containers make 3 such objects, not 30,000.
  let k0: U32Key = { value: -1, mask: WHOLE_WORD, off: offset };
  let k1: U32Key = { value: -1, mask: WHOLE_WORD, off: offset + 4 };
  let k2: U32Key = { value: -1, mask: WHOLE_WORD, off: offset + 8 };
  for (let k = 0; k < classids.length; k++) {
    const at = 4 * k;
    const node = ++nodesInBucket[words[at + 3]! & 0xff]!;
    if (k0.value !== words[at]) k0 = { value: words[at]!, mask: WHOLE_WORD, off: offset };
    if (k1.value !== words[at + 1]) k1 = { value: words[at + 1]!, mask: WHOLE_WORD, off: offset + 4 };
    if (k2.value !== words[at + 2]) k2 = { value: words[at + 2]!, mask: WHOLE_WORD, off: offset + 8 };
    const keys: U32Key[] = [k0, k1, k2, { value: words[at + 3]!, mask: WHOLE_WORD, off: offset + 12 }];
    into.push(addressFilter(d, parent, u32Handle(ADDRESS6_TABLE, words[at + 3]! & 0xff, node), { kind: 'u32', keys, classid: classids[k]! as TcHandle }));
  }
}

/**
 * A filter of the address tables. A function of the module, not a closure per tree: V8
 * optimises the loop above with the first tree's closure inlined and threw that code
 * away at the second tree's.
 */
function addressFilter(d: Device, parent: TcHandle, handle: number, spec: FilterObject['spec']): FilterObject {
  // Every protocol, not ETH_P_IP: the IPv4 and IPv6 tables share one u32 instance and so
  // its root table, which the kernel numbers 800: only for the first u32 instance on a
  // qdisc (a second, for ETH_P_IPV6, would get 801: or later, a handle Sluice cannot know
  // beforehand). The version nibble tells the families apart.
  return { type: 'filter', netns: d.netns, dev: d.dev, parent, prio: ADDRESS_FILTER_PRIO, protocol: ETH_P_ALL, handle, spec };
}

/** Everything arriving at the bridge from containers goes through the IFB's tree. */
export function ingressRedirect(bridge: Device, ifb: string): TcObjects {
  const t = emptyTc();
  t.qdiscs.push({ type: 'qdisc', netns: bridge.netns, dev: bridge.dev, handle: makeHandle(INGRESS_MAJOR, 0), parent: TC_H_INGRESS, spec: { kind: 'ingress' } });
  t.filters.push({
    type: 'filter',
    netns: bridge.netns,
    dev: bridge.dev,
    parent: makeHandle(INGRESS_MAJOR, 0),
    prio: REDIRECT_FILTER_PRIO,
    protocol: ETH_P_ALL,
    handle: u32Handle(U32_ROOT_TABLE, 0, 0x800),
    spec: { kind: 'u32', keys: [{ value: 0, mask: 0, off: 0 }], actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: ifb }] },
  });
  return t;
}

/** Sockets in a net_cls cgroup carry a classid; this BPF filter hands it to HTB. */
export function cgroupClassifier(d: Device): FilterObject {
  return {
    type: 'filter',
    netns: d.netns,
    dev: d.dev,
    parent: makeHandle(ROOT_MAJOR, 0),
    prio: CGROUP_FILTER_PRIO,
    protocol: ETH_P_ALL,
    handle: 1,
    spec: { kind: 'bpf', program: 'netcls-classid', directAction: false },
  };
}

/**
 * Per-device mode: one class on the container's own device, everything defaults to it.
 * It hangs under a root class at link speed because HTB lets a class exceed its rate
 * only by borrowing from a parent: a top-level class is held to its rate whatever its ceil.
 */
export function deviceTree(d: Device, minor: number, rates: ClassRates, link: BitsPerSec, leafSpec: QdiscSpec): TcObjects {
  const t = emptyTc();
  t.qdiscs.push({ type: 'qdisc', netns: d.netns, dev: d.dev, handle: makeHandle(ROOT_MAJOR, 0), parent: TC_H_ROOT, spec: htbQdisc(minor) });
  // The class has no sibling: its quantum is one largest packet.
  const base = quantumBase([rates.rate], link);
  t.classes.push(htbClassObject(d, ROOT_MINOR, 0, innerRootSpec(link)));
  t.classes.push(htbClassObject(d, minor, ROOT_MINOR, htbClass(rates, base)));
  t.qdiscs.push(leaf(d, minor, leafSpec));
  return t;
}

export const classHandle = (minor: number): TcHandle => makeHandle(ROOT_MAJOR, minor);
