// Destination classes (issue #23): the Host's peer sets and each container's rates in
// them. The tree is set-first (docs/decisions.md, "Destination classes"): under the
// link one class per set (its capacity), under each set one class per container with
// its rates for that set. What one such hierarchy cannot keep exactly is refused here,
// with what to write instead: a guarantee or ceiling over all peers would span the
// sets' subtrees. Pure.

import { DIRECTIONS, type Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { formatRate } from '../units/format';
import { formatSubnet, maskOf, parseSubnet } from '../net/ipv4';
import { formatIpv6, isIpv6, parseSubnet6, type Subnet6 } from '../net/ipv6';
import type { LocatedDocument } from './documents';
import type { IssueSink } from './sink';
import type { ContainerPolicy, HostPolicy, PeerRates, PeerSetPolicy } from './model';
import type { ContainerDocument, HostDocument, ScheduleDocument } from './schema';

/** The name of the default set when no set without cidrs names it. */
export const DEFAULT_PEER_SET = 'default';
/** Each set is a class and an HTB in both trees, and a packet's set is one lookup: a few sets, not hundreds. */
export const MAX_PEER_SETS = 16;

type HostDoc = LocatedDocument & { readonly value: HostDocument };
type ContainerDoc = LocatedDocument & { readonly value: ContainerDocument };
type DirectionSpec = ContainerDocument['spec']['download'];

/** The Host's peer sets, the default set last; undefined when it names none. */
export function validatePeerSets(doc: HostDoc, capacity: Readonly<Record<Direction, BitsPerSec>>, sink: IssueSink): PeerSetPolicy[] | undefined {
  const written = doc.value.spec.peers;
  if (written === undefined) return undefined;
  const named: PeerSetPolicy[] = [];
  let fallback: PeerSetPolicy | undefined;
  const seen4: { set: string; subnet: ReturnType<typeof parseSubnet> }[] = [];
  const seen6: { set: string; subnet: Subnet6 }[] = [];
  for (const [name, set] of Object.entries(written)) {
    const path = ['spec', 'peers', name];
    const cidrs = Array.isArray(set) ? set : set.cidrs;
    const capacityWritten = Array.isArray(set) ? undefined : set.capacity;
    const own = {} as Record<Direction, BitsPerSec>;
    for (const dir of DIRECTIONS) {
      const c = capacityWritten?.[dir];
      if (c !== undefined && c <= 0) sink.add(doc, [...path, 'capacity', dir], `peer set "${name}"'s ${dir} capacity must be above zero`);
      if (c !== undefined && c > capacity[dir]) sink.add(doc, [...path, 'capacity', dir], `peer set "${name}"'s ${dir} capacity ${formatRate(c)} is above the link's ${formatRate(capacity[dir])}`, `lower it to at most ${formatRate(capacity[dir])}, or leave it out (the link)`);
      own[dir] = c ?? capacity[dir];
    }
    if (cidrs === undefined) {
      if (fallback) sink.add(doc, path, `peer sets "${fallback.name}" and "${name}" both leave out cidrs: only one set can be the default (every peer in no other set)`, `give "${name}" its cidrs`);
      else fallback = { name, cidrs4: [], cidrs6: [], isDefault: true, capacity: own };
      continue;
    }
    if (name === DEFAULT_PEER_SET) sink.add(doc, path, `"${DEFAULT_PEER_SET}" names the set of peers in no other set; it cannot have cidrs`, 'rename this set');
    const cidrs4: string[] = [];
    const cidrs6: string[] = [];
    cidrs.forEach((text, i) => {
      const at = Array.isArray(set) ? [...path, i] : [...path, 'cidrs', i];
      if (isIpv6(text)) {
        const s = parseSubnet6(text);
        if (!s) return; // the schema reported it
        const canonical = `${formatIpv6(s.words)}/${s.prefix}`;
        const clash = seen6.find((o) => overlaps6(o.subnet, s));
        if (clash) sink.add(doc, at, `${text} overlaps ${formatIpv6(clash.subnet.words)}/${clash.subnet.prefix} of peer set "${clash.set}"`, 'a peer belongs to one set: make the sets disjoint');
        seen6.push({ set: name, subnet: s });
        cidrs6.push(canonical);
      } else {
        const s = parseSubnet(text);
        const clash = seen4.find((o) => overlaps4(o.subnet, s));
        if (clash) sink.add(doc, at, `${text} overlaps ${formatSubnet(clash.subnet)} of peer set "${clash.set}"`, 'a peer belongs to one set: make the sets disjoint');
        seen4.push({ set: name, subnet: s });
        cidrs4.push(formatSubnet(s));
      }
    });
    named.push({ name, cidrs4, cidrs6, isDefault: false, capacity: own });
  }
  const sets = [...named, fallback ?? { name: DEFAULT_PEER_SET, cidrs4: [], cidrs6: [], isDefault: true, capacity }];
  if (sets.length > MAX_PEER_SETS) sink.add(doc, ['spec', 'peers'], `${sets.length} peer sets (with the default); at most ${MAX_PEER_SETS}`, 'merge sets that share a capacity');
  if (doc.value.spec.mode === 'per-device') sink.add(doc, ['spec', 'peers'], 'peer sets are rendered in the shared trees only', 'use mode: shared (the default)');
  if (doc.value.spec.overcommit === 'scale-by-priority') sink.add(doc, ['spec', 'overcommit'], 'overcommit: scale-by-priority is not built for peer sets yet', 'use overcommit: reject (the default) with peer sets');
  return sets;
}

const overlaps4 = (a: ReturnType<typeof parseSubnet>, b: ReturnType<typeof parseSubnet>): boolean => {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
};

function overlaps6(a: Subnet6, b: Subnet6): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    const mask = bits === 0 ? 0 : maskOf(bits);
    if (((a.words[i]! & mask) >>> 0) !== ((b.words[i]! & mask) >>> 0)) return false;
  }
  return true;
}

/** A container's guarantee over all peers and its rates in every set, one direction. */
export interface ContainerPeerRates {
  readonly guarantee: BitsPerSec;
  readonly peers?: Readonly<Record<string, PeerRates>>;
}

/**
 * One direction of a container on a Host with peer sets. A guarantee over all peers
 * would have to follow the traffic from one set's subtree to another's, which no HTB
 * hierarchy does: it is kept only as the sum of per-set guarantees, every set named.
 * Likewise a ceiling over all peers (below the link). `ceiling`: the container's
 * ceiling as defaulted (the link, or its group's).
 */
export function validateContainerPeers(doc: ContainerDoc, dir: Direction, host: HostPolicy, ceiling: BitsPerSec, sink: IssueSink): ContainerPeerRates {
  const spec: DirectionSpec = doc.value.spec[dir];
  const path = ['spec', dir];
  const sets = host.peers;
  if (sets === undefined) {
    if (spec.peers !== undefined) sink.add(doc, [...path, 'peers'], 'per-set rates, but the Host names no peer sets', 'add peers: to the Host (e.g. peers: { cluster: [10.0.0.0/8] }) or leave peers out');
    if (spec.guarantee === undefined) sink.add(doc, [...path, 'guarantee'], `${dir} guarantee is missing`, 'write one, e.g. guarantee: 10mbit (0mbit: best effort)');
    return { guarantee: spec.guarantee ?? bitsPerSec(0) };
  }
  const written = spec.peers ?? {};
  for (const name of Object.keys(written)) {
    if (!sets.some((s) => s.name === name)) sink.add(doc, [...path, 'peers', name], `unknown peer set "${name}"`, `the Host's sets: ${sets.map((s) => s.name).join(', ')}`);
  }
  if (spec.ceiling !== undefined && spec.ceiling < host.capacity[dir]) {
    sink.add(
      doc,
      [...path, 'ceiling'],
      `the ${dir} ceiling over all peers (${formatRate(spec.ceiling)}) spans the peer sets' subtrees (${sets.map((s) => s.name).join(', ')}), which one HTB hierarchy cannot cap together`,
      `cap each set instead: peers: { ${sets.map((s) => `${s.name}: { ceiling: … }`).join(', ')} }`,
    );
  }
  const peers: Record<string, PeerRates> = {};
  let sum = 0;
  for (const set of sets) {
    const w = written[set.name];
    const setPath = [...path, 'peers', set.name];
    const g = w?.guarantee ?? bitsPerSec(0);
    // Left out: no ceiling of its own (its own over all peers, the link): the set's class caps it, and a
    // change of the set's capacity then changes that one class, not every member's.
    const c = w?.ceiling ?? ceiling;
    if (w?.ceiling !== undefined && c > set.capacity[dir]) sink.add(doc, [...setPath, 'ceiling'], `${dir} ceiling ${formatRate(c)} for peer set "${set.name}" is above the set's capacity ${formatRate(set.capacity[dir])}`, `lower it to at most ${formatRate(set.capacity[dir])}, or leave it out`);
    if (g > c) sink.add(doc, [...setPath, 'guarantee'], `${dir} guarantee ${formatRate(g)} for peer set "${set.name}" is above its ceiling there, ${formatRate(c)}`, 'a guarantee cannot exceed the ceiling');
    sum += g;
    peers[set.name] = { guarantee: g, ceiling: c, priority: w?.priority ?? spec.priority };
  }
  const total = bitsPerSec(sum);
  if (spec.guarantee !== undefined && spec.guarantee !== total && spec.guarantee > 0) {
    const unnamed = sets.filter((s) => written[s.name]?.guarantee === undefined);
    const named = sets.filter((s) => written[s.name]?.guarantee !== undefined);
    const left = Math.max(0, spec.guarantee - sum);
    const example = unnamed.length === 1 ? `${named.map((s) => `${s.name}: { guarantee: ${formatRate(peers[s.name]!.guarantee)} }, `).join('')}${unnamed[0]!.name}: { guarantee: ${formatRate(bitsPerSec(left))} }` : sets.map((s) => `${s.name}: { guarantee: … }`).join(', ');
    sink.add(
      doc,
      [...path, 'guarantee'],
      `the ${dir} guarantee over all peers (${formatRate(spec.guarantee)}) spans the peer sets' subtrees (${sets.map((s) => s.name).join(', ')}): one HTB hierarchy keeps a guarantee inside one set's subtree, not one that follows the traffic between them${sum > 0 ? ` (the per-set guarantees add up to ${formatRate(total)})` : ''}`,
      `write it per set, adding up to it: peers: { ${example} } (it is then kept whenever the container sends to every set), or leave guarantee out`,
    );
  }
  return { guarantee: total, peers };
}

/**
 * A direction's guarantee over all peers as its document gives it: with per-set rates, their sum (what
 * validation keeps, a written overall one being refused unless it equals that sum); else the written one.
 */
export function writtenGuarantee(spec: DirectionSpec): number {
  if (spec.peers === undefined) return spec.guarantee ?? 0;
  return Object.values(spec.peers).reduce((sum, p) => sum + (p.guarantee ?? 0), 0);
}

/** Σ of the containers' guarantees in each set must fit the set's capacity, and all sets' the link. */
export function reportPeerAdmission(host: HostPolicy, containers: readonly ContainerPolicy[], docs: readonly LocatedDocument[], hostDoc: LocatedDocument, sink: IssueSink): void {
  const sets = host.peers;
  if (sets === undefined) return;
  for (const dir of DIRECTIONS) {
    for (const set of sets) {
      const total = containers.reduce((sum, c) => sum + (c.bandwidth[dir].peers?.[set.name]?.guarantee ?? 0), 0);
      if (total <= set.capacity[dir]) continue;
      sink.add(hostDoc, ['spec', 'peers'], `${dir} guarantees in peer set "${set.name}" add up to ${formatRate(bitsPerSec(total))}, above its capacity ${formatRate(set.capacity[dir])}`, `lower the containers' peers.${set.name}.guarantee, or raise the set's capacity`);
    }
  }
  containers.forEach((c, i) => {
    if (c.match.kind === 'cgroup') sink.add(docs[i]!, ['spec', 'match'], 'a cgroup-matched container cannot have per-set classes: the root HTB reads its net_cls classid, which names one class of the root, not one per peer set', 'match the workload by address (ip:), or give the policy no peer sets');
    if (c.group !== undefined) sink.add(docs[i]!, ['spec', 'group'], 'groups with peer sets are not built yet (a set\'s subtree would hold a copy of every group)', 'leave group out, or the Host\'s peers out');
  });
}

type ScheduleDoc = LocatedDocument & { readonly value: ScheduleDocument };

/**
 * A window's patch sets a container's rates over all peers, which the set-first trees do
 * not render (they render its rates per set): refused rather than silently doing nothing.
 */
export function reportPeerSchedules(host: HostPolicy, docs: readonly ScheduleDoc[], sink: IssueSink): void {
  if (host.peers === undefined) return;
  for (const doc of docs) {
    doc.value.spec.patches.forEach((patch, i) => {
      for (const dir of DIRECTIONS) {
        if (patch[dir] !== undefined) sink.add(doc, ['spec', 'patches', i, dir], `a schedule patches ${patch.container}'s ${dir} rates over all peers, but this Host has peer sets: its classes are per set`, 'per-set patches are not built yet: leave the schedule out, or the Host\'s peers');
      }
    });
  }
}
