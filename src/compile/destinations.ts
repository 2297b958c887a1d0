// The shared trees of a policy with peer sets (destination classes, issue #23). Set
// first: under the link one class per set (rate = its containers' guarantees in it, ceil
// = its capacity, one priority for all sets), rendered as groups are (nested.ts): a leaf
// class of the root HTB whose leaf qdisc is an HTB of its own, holding one class per
// container with its rates in that set. The root HTB classifies by the peer's address
// (the source downloading, the destination uploading) into its set; each set's HTB by
// the container's address, with the same u32 tables as a flat tree. Pure.
//
// Per-packet cost does not grow with the number of CIDRs or containers: the root's u32
// has one hash table per distinct prefix length among the sets' CIDRs, hashed on the
// prefix's last octet, then one test per CIDR sharing that octet; the sets are disjoint
// (validation), so the first match is the only one. A peer in no set falls through to
// a last filter per family: the default set.
//
// Numbering: each set and each (container, set) pair has a slot (assignSlots over names
// no container can have, "<container>@<set>" and "peers.<set>"): a set's class is
// 1:<set slot> and its HTB <set slot>:; a container's class in it <set slot>:<pair
// slot>, its leaf qdisc <pair slot>:.

import { makeHandle, type TcHandle } from '../tc/handle';
import { ETH_P_ALL, type Direction, type FilterObject, type QdiscSpec, type U32Key } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { maskOf, parseSubnet } from '../net/ipv4';
import { parseSubnet6 } from '../net/ipv6';
import type { PeerSetPolicy } from '../policy/model';
import type { CompiledClassRef, CompiledPeerSet } from './model';
import { PEER_SET_PRIORITY } from '../allocate/destinations';
import { assignSlots } from '../shape/naming';
import type { ContainerNode, ShapeTree } from '../shape/model';
import { HtbClassSpecs, htbQdisc, quantumBase } from './htb';
import {
  ADDRESS_FILTER_PRIO,
  addAddress6Filters,
  addAddressFilters,
  address6Table,
  addressTable,
  addTreeRoot,
  emptyAddress6Table,
  innerRootSpec,
  ROOT_MAJOR,
  ROOT_MINOR,
  DST6_OFFSET,
  DST_OFFSET,
  IPV4_VERSION,
  IPV6_VERSION,
  prefixKeys6,
  SRC6_OFFSET,
  SRC_OFFSET,
  U32_ROOT_TABLE,
  u32Handle,
  versionKey,
  type Address6Table,
  type AddressTable,
  type Device,
  type TcList,
  type TcSink,
} from './trees';

/**
 * The root's u32 hash tables of peer CIDRs: one per prefix length and family, numbered
 * by the length, so a CIDR of a new length adds a table and renumbers none.
 */
const PEER4_TABLE = 0x10;
const PEER6_TABLE = 0x40;
/** Node ids in the root table (800:): the jumps (by prefix length), then the defaults last (u32 keeps nodes in id order). */
const PEER4_LINK_NODE = 0x100;
const PEER6_LINK_NODE = 0x200;
const DEFAULT4_NODE = 0xffe;
const DEFAULT6_NODE = 0xfff;
/** Where the peer's address is: the source downloading (it sends to a container), the destination uploading. */
const peerOffset4 = (direction: Direction): number => (direction === 'download' ? SRC_OFFSET : DST_OFFSET);
const peerOffset6 = (direction: Direction): number => (direction === 'download' ? SRC6_OFFSET : DST6_OFFSET);

/** A set's class id (in the root HTB) and its HTB, and every container's class in it. */
export interface SetLayout {
  readonly sets: readonly PeerSetPolicy[];
  readonly setClass: readonly TcHandle[];
  readonly setQdisc: readonly TcHandle[];
  /** [set][container]: the container's class in that set's HTB. */
  readonly pairClass: readonly (readonly TcHandle[])[];
  readonly pairLeaf: readonly (readonly TcHandle[])[];
  /** Per set: the containers' address tables in its HTB. */
  readonly v4: readonly AddressTable[];
  readonly v6: readonly Address6Table[];
  /** Each container's class as the rest of Sluice sees it: its class in the default set. */
  readonly containerClass: readonly TcHandle[];
}

export const pairName = (container: string, set: string): string => `${container}@${set}`;
const setName = (set: string): string => `peers.${set}`;

export function setLayout(tree: ShapeTree): SetLayout {
  const sets = tree.host.peers!;
  const containers = tree.containers;
  const names: string[] = [];
  for (const s of sets) for (const c of containers) names.push(pairName(c.policy.name, s.name));
  const slots = assignSlots(names, new Map(), sets.map((s) => setName(s.name)));
  const setClass = sets.map((s) => makeHandle(ROOT_MAJOR, slots.get(setName(s.name))!));
  const setQdisc = sets.map((s) => makeHandle(slots.get(setName(s.name))!, 0));
  const pairClass = sets.map((s) => containers.map((c) => makeHandle(slots.get(setName(s.name))!, slots.get(pairName(c.policy.name, s.name))!)));
  const pairLeaf = sets.map((s) => containers.map((c) => makeHandle(slots.get(pairName(c.policy.name, s.name))!, 0)));
  const v4: AddressTable[] = [];
  const v6: Address6Table[] = [];
  sets.forEach((_, k) => {
    const ips: number[] = [];
    const ipClassids: number[] = [];
    const ips6: string[] = [];
    const ip6Classids: number[] = [];
    containers.forEach((c, i) => {
      if (c.address4 >= 0) {
        ips.push(c.address4);
        ipClassids.push(pairClass[k]![i]!);
      }
      if (c.address6 !== undefined) {
        ips6.push(c.address6);
        ip6Classids.push(pairClass[k]![i]!);
      }
    });
    v4.push(addressTable(ips, ipClassids));
    v6.push(ips6.length === 0 ? emptyAddress6Table : address6Table(ips6, ip6Classids));
  });
  const fallback = sets.findIndex((s) => s.isDefault);
  return { sets, setClass, setQdisc, pairClass, pairLeaf, v4, v6, containerClass: pairClass[fallback]! };
}

/** A container's rates in a set, one direction (validation filled every set in). */
const peerRates = (c: ContainerNode, set: string, direction: Direction) => c.policy.bandwidth[direction].peers![set]!;

/** Where each set's class and each container's class in it are, for the snapshot, metrics and `inspect`. */
export function describePeerSets(tree: ShapeTree, layout: SetLayout): CompiledPeerSet[] {
  const host = tree.host;
  const dev = (direction: Direction): string => (direction === 'download' ? host.bridge : host.ifb);
  const both = (ref: (direction: Direction) => CompiledClassRef): Record<Direction, CompiledClassRef> => ({ download: ref('download'), upload: ref('upload') });
  return layout.sets.map((s, k) => ({
    name: s.name,
    isDefault: s.isDefault,
    cidrs: [...s.cidrs4, ...s.cidrs6],
    classes: both((direction) => {
      const guarantee = tree.containers.reduce((sum, c) => sum + peerRates(c, s.name, direction).guarantee, 0);
      return { netns: host.netns, dev: dev(direction), classid: layout.setClass[k]!, guarantee: bitsPerSec(guarantee), ceiling: s.capacity[direction], priority: PEER_SET_PRIORITY };
    }),
    containers: tree.containers.map((c, i) =>
      both((direction) => {
        const r = peerRates(c, s.name, direction);
        // The ceiling in force: the class's own ceil is left at the container's (so a set's capacity change is one
        // class change), but the set's class above it caps it at the set's capacity; inspect and metrics show that.
        const ceiling = bitsPerSec(Math.min(r.ceiling, s.capacity[direction]));
        return { netns: host.netns, dev: dev(direction), classid: layout.pairClass[k]![i]!, guarantee: r.guarantee, ceiling, priority: r.priority };
      }),
    ),
  }));
}

/** One direction's tree of a policy with peer sets, added to `t`. */
export function addSetTree(t: TcSink, d: Device, direction: Direction, capacity: BitsPerSec, subnet: string, tree: ShapeTree, layout: SetLayout, leafSpec: QdiscSpec): void {
  const { netns, dev } = d;
  const { sets, setClass, setQdisc, pairClass, pairLeaf } = layout;
  const containers = tree.containers;
  const setGuarantees = sets.map((s) => containers.reduce((sum, c) => sum + peerRates(c, s.name, direction).guarantee, 0));
  const base = quantumBase(setGuarantees, capacity);
  addTreeRoot(t, d, capacity, base, leafSpec);
  const specs = new HtbClassSpecs(base);
  const setHtb = htbQdisc(0);
  const setRoot = innerRootSpec(capacity);
  const parsed = parseSubnet(subnet);
  sets.forEach((s, k) => {
    t.classes.push({ type: 'class', netns, dev, classid: setClass[k]!, parent: makeHandle(ROOT_MAJOR, ROOT_MINOR), spec: specs.ofRates(bitsPerSec(setGuarantees[k]!), s.capacity[direction], PEER_SET_PRIORITY, undefined) });
    t.qdiscs.push({ type: 'qdisc', netns, dev, handle: setQdisc[k]!, parent: setClass[k]!, spec: setHtb });
    const rootClass = makeHandle(setQdisc[k]! >>> 16, ROOT_MINOR);
    t.classes.push({ type: 'class', netns, dev, classid: rootClass, parent: setQdisc[k]!, spec: setRoot });
    const inSet = new HtbClassSpecs(quantumBase(containers.map((c) => peerRates(c, s.name, direction).guarantee), capacity));
    containers.forEach((c, i) => {
      const r = peerRates(c, s.name, direction);
      t.classes.push({ type: 'class', netns, dev, classid: pairClass[k]![i]!, parent: rootClass, spec: inSet.ofRates(r.guarantee, r.ceiling, r.priority, c.policy.bandwidth[direction].burst) });
      t.qdiscs.push({ type: 'qdisc', netns, dev, handle: pairLeaf[k]![i]!, parent: pairClass[k]![i]!, spec: leafSpec });
    });
    addAddressFilters(t.filters, d, setQdisc[k]!, direction, parsed, layout.v4[k]!);
    addAddress6Filters(t.filters, d, setQdisc[k]!, direction, layout.v6[k]!);
  });
  addPeerFilters(t.filters, d, direction, layout);
}

/** The root's classifier: a peer's address to its set's class (see the head of this file). */
function addPeerFilters(into: TcList<FilterObject>, d: Device, direction: Direction, layout: SetLayout): void {
  const parent = makeHandle(ROOT_MAJOR, 0);
  const filter = (handle: number, spec: FilterObject['spec']): FilterObject => ({ type: 'filter', netns: d.netns, dev: d.dev, parent, prio: ADDRESS_FILTER_PRIO, protocol: ETH_P_ALL, handle, spec });
  const off4 = peerOffset4(direction);
  const off6 = peerOffset6(direction);
  // IPv4: by prefix length, each CIDR's network and its set's class.
  const byLength4 = new Map<number, { network: number; classid: TcHandle }[]>();
  const byLength6 = new Map<number, { words: readonly number[]; classid: TcHandle }[]>();
  layout.sets.forEach((s, k) => {
    for (const cidr of s.cidrs4) {
      const p = parseSubnet(cidr);
      const list = byLength4.get(p.prefix) ?? [];
      list.push({ network: p.network, classid: layout.setClass[k]! });
      byLength4.set(p.prefix, list);
    }
    for (const cidr of s.cidrs6) {
      const p = parseSubnet6(cidr)!;
      const list = byLength6.get(p.prefix) ?? [];
      list.push({ words: p.words, classid: layout.setClass[k]! });
      byLength6.set(p.prefix, list);
    }
  });
  [...byLength4.keys()].sort((a, b) => b - a).forEach((length) => {
    const table = PEER4_TABLE + length;
    const shift = length === 0 ? 0 : 8 * (3 - Math.floor((length - 1) / 8));
    into.push(filter(u32Handle(table, 0, 0), { kind: 'u32', divisor: 256, keys: [] }));
    into.push(filter(u32Handle(U32_ROOT_TABLE, 0, PEER4_LINK_NODE + length), { kind: 'u32', keys: [versionKey(IPV4_VERSION)], link: u32Handle(table, 0, 0), hashKey: { mask: length === 0 ? 0 : (0xff << shift) >>> 0, off: off4 } }));
    const nodes = new Uint32Array(256);
    for (const { network, classid } of byLength4.get(length)!) {
      const bucket = length === 0 ? 0 : (network >>> shift) & 0xff;
      const keys: U32Key[] = [{ value: network, mask: maskOf(length), off: off4 }];
      into.push(filter(u32Handle(table, bucket, ++nodes[bucket]!), { kind: 'u32', keys, classid }));
    }
  });
  [...byLength6.keys()].sort((a, b) => b - a).forEach((length) => {
    const table = PEER6_TABLE + length;
    const word = length === 0 ? 0 : Math.floor((length - 1) / 32);
    const shift = length === 0 ? 0 : 8 * (3 - Math.floor(((length - 1) % 32) / 8));
    into.push(filter(u32Handle(table, 0, 0), { kind: 'u32', divisor: 256, keys: [] }));
    into.push(filter(u32Handle(U32_ROOT_TABLE, 0, PEER6_LINK_NODE + length), { kind: 'u32', keys: [versionKey(IPV6_VERSION)], link: u32Handle(table, 0, 0), hashKey: { mask: length === 0 ? 0 : (0xff << shift) >>> 0, off: off6 + 4 * word } }));
    const nodes = new Uint32Array(256);
    for (const { words, classid } of byLength6.get(length)!) {
      const bucket = length === 0 ? 0 : (words[word]! >>> shift) & 0xff;
      into.push(filter(u32Handle(table, bucket, ++nodes[bucket]!), { kind: 'u32', keys: prefixKeys6(words, length, off6), classid }));
    }
  });
  const fallback = layout.setClass[layout.sets.findIndex((s) => s.isDefault)]!;
  into.push(filter(u32Handle(U32_ROOT_TABLE, 0, DEFAULT4_NODE), { kind: 'u32', keys: [versionKey(IPV4_VERSION)], classid: fallback }));
  into.push(filter(u32Handle(U32_ROOT_TABLE, 0, DEFAULT6_NODE), { kind: 'u32', keys: [versionKey(IPV6_VERSION)], classid: fallback }));
}
