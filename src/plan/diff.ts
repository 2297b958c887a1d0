// diff(desired, observed) → the ordered operations that make observed equal desired.
// Pure. Objects the kernel removes by itself (everything inside a deleted namespace,
// on a deleted device, under a deleted qdisc or class) get no delete of their own, and
// are recreated if still desired; a converged state yields an empty plan.

import { majorOf, minorOf, TC_H_INGRESS, TC_H_ROOT } from '../tc/handle';
import {
  assertNever,
  classKey,
  objectKey,
  type AddressObject,
  type CgroupClassidObject,
  type ClassSpec,
  type FilterObject,
  type KernelObject,
  type KernelState,
  type LinkObject,
  type NamespaceObject,
  type NetnsLocator,
  type RouteObject,
  type SysctlObject,
} from '../tc/model';
import type { Operation, Plan } from './model';
import { ADDRESS_RANK, CGROUP_RANK, classRank, createRank, filterRank, linkRank, NAMESPACE_RANK, qdiscRank, ROUTE_RANK, SYSCTL_RANK } from './order';

export function diff(desired: KernelState, observed: KernelState): Plan {
  if (isEmptyState(observed)) return fromNothing(desired);
  if (isConverged(desired, observed)) return [];
  const want = indexByKey(desired);
  const have = indexByKey(observed);
  const replaced = new Set<string>();
  const changes: Operation[] = [];
  for (const [key, d] of want) {
    const o = have.get(key);
    if (!o) continue;
    const verdict = compare(d, o);
    if (verdict.kind === 'replace') replaced.add(key);
    else if (verdict.kind === 'change') changes.push({ op: 'change', object: d, before: o, fields: verdict.fields });
  }
  const removed: KernelObject[] = [];
  for (const [key, o] of have) if ((!want.has(key) && deletable(o)) || replaced.has(key)) removed.push(o);
  const nothingRemoved = removed.length === 0;
  const gone = nothingRemoved ? new Set<string>() : cascade(removed, [...have.values()]);
  const implied = nothingRemoved ? new Set<KernelObject>() : impliedRemovals(removed, [...have.values()]);
  const deletes = sortByRank(dedupeVethPairs(removed.filter((o) => !implied.has(o))), (o) => -createRank(o)).map((o): Operation => ({ op: 'delete', object: o }));
  const toCreate: KernelObject[] = [];
  for (const [key, d] of want) if (creatable(d) && (!have.has(key) || gone.has(key))) toCreate.push(d);
  const forward = new RankedOperations();
  for (const o of dedupeVethPairs(toCreate)) forward.add({ op: 'create', object: o });
  for (const op of changes) if (!gone.has(objectKey(op.object))) forward.add(op);
  for (const op of loopbacksOfNewNamespaces(want, have, gone)) forward.add(op);
  return [...deletes, ...forward.ordered((veth) => want.get(`${veth.spec.peerNetns}/link/${veth.spec.peerName}`))];
}

/**
 * The forward part of a plan (creates and changes) in execution order, built in one pass:
 * stable by create rank; each new veth followed by the change that brings its peer up;
 * then, after the namespaces and link creations, each namespace's operations together
 * (namespaces in order of first appearance), so the executor sends one batch per
 * namespace instead of one per operation when thousands of containers each need an
 * address, a route and their links up; operations in no namespace last.
 */
class RankedOperations {
  /** Operations by create rank (small integers, see order.ts); each rank holds one object type. */
  private readonly byRank: Operation[][] = [];

  add(op: Operation): void {
    this.addAt(createRank(op.object), op);
  }

  /** add(op) when the caller knows the rank (createRank(op.object)). */
  addAt(rank: number, op: Operation): void {
    const ops = this.byRank[rank];
    if (ops) ops.push(op);
    else this.byRank[rank] = [op];
  }

  /**
   * All operations in execution order. The result is allocated once at its final size
   * and the per-namespace groups are put in place by a counting sort: growing the
   * 130,000-entry plan of a fresh machine push by push, plus an array per namespace,
   * allocated three times the plan's own size in copies.
   */
  ordered(peerOf: PeerLookup): Operation[] {
    const ranks = this.byRank.filter((ops) => ops !== undefined);
    const peerUps = peerUpsOf(ranks, peerOf);
    // Link creations (one peerUps entry each) go first with the namespaces, the cgroups
    // last, everything else (peer changes included) by namespace in between.
    let total = peerUps.count;
    let grouped = peerUps.count - peerUps.changes.length;
    let last = 0;
    for (let r = 0; r < ranks.length; r++) {
      const ops = ranks[r]!;
      const type = ops[0]!.object.type;
      total += ops.length;
      if (type === 'cgroup-classid') last += ops.length;
      else if (type !== 'namespace') grouped += ops.length;
    }
    const out = new Array<Operation>(total);
    const inNamespaces = new Array<Operation>(grouped);
    const firsts = splitFirsts(ranks, peerUps.changes, out, inNamespaces);
    placeByNamespace(inNamespaces, out, firsts);
    let at = total - last;
    for (let r = 0; r < ranks.length; r++) {
      const ops = ranks[r]!;
      if (ops[0]!.object.type === 'cgroup-classid') for (let i = 0; i < ops.length; i++) out[at++] = ops[i]!;
    }
    return out;
  }
}

/**
 * For each link creation, in rank order, the change that brings its peer up (if any),
 * and how many there are. One type per rank: the type is read once per rank.
 */
function peerUpsOf(ranks: readonly (readonly Operation[])[], peerOf: PeerLookup): { changes: (Operation | undefined)[]; count: number } {
  const changes: (Operation | undefined)[] = [];
  let count = 0;
  for (let r = 0; r < ranks.length; r++) {
    const ops = ranks[r]!;
    if (ops[0]!.object.type !== 'link') continue;
    // Indexed loops here and in the functions below, not for-of: this code runs once
    // per plan, mostly before V8 optimises it, and unoptimised for-of allocates an
    // iterator result per element (20 MB for the 130,000 operations of 10,000 containers).
    for (let i = 0; i < ops.length; i++) {
      if (ops[i]!.op !== 'create') continue;
      const change = peerUpChange(ops[i]!.object, peerOf);
      changes.push(change);
      if (change) count++;
    }
  }
  return { changes, count };
}

/**
 * Puts the namespaces and link creations at the start of `out`, in rank order, and the
 * rest but the cgroups into `inNamespaces`, each peer change right after its veth's
 * place; returns how many went to `out`.
 */
function splitFirsts(ranks: readonly (readonly Operation[])[], peerUps: readonly (Operation | undefined)[], out: Operation[], inNamespaces: Operation[]): number {
  let at = 0;
  let g = 0;
  let created = 0;
  for (let r = 0; r < ranks.length; r++) {
    const ops = ranks[r]!;
    const type = ops[0]!.object.type;
    if (type === 'namespace') for (let i = 0; i < ops.length; i++) out[at++] = ops[i]!;
    else if (type === 'link') {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        if (op.op !== 'create') inNamespaces[g++] = op;
        else {
          out[at++] = op;
          const peerUp = peerUps[created++];
          if (peerUp) inNamespaces[g++] = peerUp;
        }
      }
    } else if (type !== 'cgroup-classid') for (let i = 0; i < ops.length; i++) inNamespaces[g++] = ops[i]!;
  }
  return at;
}

/**
 * Puts `ops` at out[at..] with each namespace's operations together, namespaces in
 * order of first appearance, each group in the order given (a stable counting sort).
 */
function placeByNamespace(ops: readonly Operation[], out: Operation[], at: number): void {
  // The namespace read below meets the object types of a plan one after another (links,
  // addresses, routes, qdiscs, classes, filters). V8 optimised the loop for the types
  // seen so far and threw that code away at each new one, four times over a fresh
  // machine's plan (the loop took 25–40 ms at 10,000 containers, 15 ms without). Reading
  // a sample from across the list first shows it every type before the loop gets hot.
  for (let i = 0; i < ops.length; i += NAMESPACE_SAMPLE_STRIDE) netnsOf(ops[i]!);
  const groupOf = new Map<NetnsLocator, number>();
  const groups = new Uint32Array(ops.length);
  // starts[g + 1] counts group g, then becomes where group g + 1 begins.
  const starts = new Uint32Array(ops.length + 1);
  // Runs of one namespace are long (a device's tc objects): look the group up once per run.
  let runNetns: NetnsLocator | undefined;
  let runGroup = 0;
  for (let i = 0; i < ops.length; i++) {
    const netns = netnsOf(ops[i]!);
    if (netns !== runNetns) {
      let group = groupOf.get(netns);
      if (group === undefined) {
        group = groupOf.size;
        groupOf.set(netns, group);
      }
      runNetns = netns;
      runGroup = group;
    }
    groups[i] = runGroup;
    starts[runGroup + 1]!++;
  }
  for (let group = 1; group <= groupOf.size; group++) starts[group]! += starts[group - 1]!;
  for (let i = 0; i < ops.length; i++) out[at + starts[groups[i]!]!++] = ops[i]!;
}

/** Every object placed by namespace has one. */
const netnsOf = (op: Operation): NetnsLocator => (op.object as { readonly netns: NetnsLocator }).netns;

/** Far enough apart to be a few dozen reads in a plan of 100,000; a type with fewer operations is cheap anyway. */
const NAMESPACE_SAMPLE_STRIDE = 997;

/** The fields of a change that brings a link up: one array for all of them (a fresh machine has 20,000). */
const UP: readonly string[] = ['up'];

/**
 * The executor creates a veth's other end down (the kernel refuses to open a veth whose
 * peer does not exist yet, which is the created end while the request runs), with the
 * created end's MTU and GSO size and no master; a change right after makes it as desired.
 */
function peerUpChange(o: KernelObject, peerOf: PeerLookup): Operation | undefined {
  if (o.type !== 'link' || o.spec.kind !== 'veth') return undefined;
  const peer = peerOf(o as VethObject);
  if (peer?.type !== 'link') return undefined;
  // What the kernel made, as `before`: the change's fields are then what really differs.
  const asMade: LinkObject = { type: 'link', netns: peer.netns, name: peer.name, up: false, mtu: o.mtu, gsoMaxSize: o.gsoMaxSize, spec: peer.spec };
  const fields = changedLinkFields(peer, asMade);
  return fields.length === 0 ? undefined : { op: 'change', object: peer, before: asMade, fields };
}

const isEmptyState = (s: KernelState): boolean => flattenLength(s) === 0;

const flattenLength = (s: KernelState): number =>
  s.namespaces.length + s.links.length + s.addresses.length + s.routes.length + s.sysctls.length + s.qdiscs.length + s.classes.length + s.filters.length + s.cgroups.length;

/**
 * A fresh machine: everything is created, so no index of 100,000 keys is needed to find
 * what differs (the same result as the general path, which a unit test checks).
 */
function fromNothing(desired: KernelState): Plan {
  const forward = new RankedOperations();
  // List by list, in flatten() order, with each type's own rank. Only links can be left
  // out (external devices, the second end of a veth): the other lists are created whole.
  const keptVeths = new LinkIndex();
  // Each kept veth's other end, met as its second end: the peer lookup needs no index
  // of all 30,000 links of a fresh machine of 10,000 containers (~10 ms of its diff).
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
  desired.qdiscs.forEach((o) => forward.addAt(qdiscRank(o), create(o)));
  desired.classes.forEach((o) => forward.addAt(classRank(o), create(o)));
  desired.filters.forEach((o) => forward.addAt(filterRank(o), create(o)));
  desired.cgroups.forEach((o) => forward.addAt(CGROUP_RANK, create(o)));
  const created = new Set<string>();
  desired.namespaces.forEach((n) => created.add(n.name));
  desired.links.forEach((o) => {
    if (o.spec.kind !== 'external' || o.name !== 'lo') return;
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

/** A veth end: what a peer is looked up from. */
type VethObject = LinkObject & { readonly spec: { readonly kind: 'veth'; readonly peerName: string; readonly peerNetns: NetnsLocator } };

/** The desired link at the other end of a veth, if any. */
type PeerLookup = (veth: VethObject) => KernelObject | undefined;

/**
 * Links by name, then namespace (the last of a repeated one wins, as in a Map by
 * objectKey). Name first: most names are one link's (a host-side veth), whose entry is
 * the link itself, and only names many namespaces share (lo, eth0) get a map by
 * namespace. Namespace first made a Map per container namespace: 20,000 maps for the
 * two indexes of a fresh machine's plan (0.9 MB more allocated at 10,000 containers).
 */
class LinkIndex {
  private readonly byName = new Map<string, LinkObject | Map<string, LinkObject>>();

  set(l: LinkObject): void {
    const entry = this.byName.get(l.name);
    if (entry === undefined || (!(entry instanceof Map) && entry.netns === l.netns)) this.byName.set(l.name, l);
    else if (entry instanceof Map) entry.set(l.netns, l);
    else this.byName.set(l.name, new Map<string, LinkObject>().set(entry.netns, entry).set(l.netns, l));
  }

  get(netns: string, name: string): LinkObject | undefined {
    const entry = this.byName.get(name);
    if (entry === undefined || entry instanceof Map) return entry?.get(netns);
    return entry.netns === netns ? entry : undefined;
  }
}

/** The state's lists in flatten() order, without copying them into one array. */
const stateLists = (s: KernelState): readonly (readonly KernelObject[])[] => [s.namespaces, s.links, s.addresses, s.routes, s.sysctls, s.qdiscs, s.classes, s.filters, s.cgroups];

/** Stable sort on a rank computed once per element. */
function sortByRank<T>(items: readonly T[], rank: (item: T) => number): T[] {
  const buckets = new Map<number, T[]>();
  for (const item of items) {
    const r = rank(item);
    const bucket = buckets.get(r);
    if (bucket) bucket.push(item);
    else buckets.set(r, [item]);
  }
  return [...buckets.keys()].sort((a, b) => a - b).flatMap((r) => buckets.get(r)!);
}

export function flatten(s: KernelState): KernelObject[] {
  return [...s.namespaces, ...s.links, ...s.addresses, ...s.routes, ...s.sysctls, ...s.qdiscs, ...s.classes, ...s.filters, ...s.cgroups];
}

function indexByKey(s: KernelState): Map<string, KernelObject> {
  const index = new Map<string, KernelObject>();
  for (const list of stateLists(s)) for (const o of list) index.set(objectKey(o), o);
  return index;
}

/** Devices Sluice shapes but did not create, and sysctls, are never deleted. */
const deletable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external') && o.type !== 'sysctl';
const creatable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external');

type Verdict = { kind: 'same' } | { kind: 'change'; fields: string[] } | { kind: 'replace' };
/** Shared verdicts: a no-op diff compares 100,000 pairs and should allocate nothing for them. */
const SAME: Verdict = { kind: 'same' };
const REPLACE: Verdict = { kind: 'replace' };
const changedOrSame = (fields: string[]): Verdict => (fields.length ? { kind: 'change', fields } : SAME);

function compare(d: KernelObject, o: KernelObject): Verdict {
  switch (d.type) {
    case 'link': {
      const ol = o as LinkObject;
      if (d.spec.kind !== ol.spec.kind && d.spec.kind !== 'external') return REPLACE;
      return changedOrSame(changedLinkFields(d, ol));
    }
    case 'route':
      return sameData(d, o) ? SAME : REPLACE;
    case 'sysctl':
    case 'cgroup-classid':
      return sameData(d, o) ? SAME : { kind: 'change', fields: ['value'] };
    case 'qdisc': {
      const oq = o as typeof d;
      if (d.spec.kind !== oq.spec.kind || d.handle !== oq.handle) return REPLACE;
      return sameFields(d.spec, oq.spec) ? SAME : changedOrSame(changedFields(d.spec, oq.spec));
    }
    case 'class': {
      const oc = o as typeof d;
      if (d.parent !== oc.parent) return REPLACE;
      if (sameClassSpec(d.spec, oc.spec)) return SAME;
      const fields = changedClassFields(d.spec, oc.spec);
      return changedOrSame(fields);
    }
    case 'filter':
      return sameData(d, o) ? SAME : REPLACE;
    case 'namespace':
    case 'address':
      return SAME;
    default:
      return assertNever(d);
  }
}

/** Structural equality of plain data (what the model is made of); no allocation. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    // Each field read once, and compared in place when equal (most are, and are
    // numbers or strings): a no-op diff compares 30,000 routes and filters this way.
    const x = ra[k];
    if (x === undefined) continue;
    count++;
    const y = rb[k];
    if (x !== y && !sameData(x, y)) return false;
  }
  for (const k in rb) if (rb[k] !== undefined) count--;
  return count === 0;
}


function changedFields<T extends object>(a: T, b: T): string[] {
  return Object.keys(a).filter((k) => !sameData(a[k as keyof T], b[k as keyof T]));
}

/** changedFields(a, b) is empty, without building the key list and the result (a converged tick asks for every qdisc). */
function sameFields<T extends object>(a: T, b: T): boolean {
  if (a === b) return true;
  for (const k in a) if (Object.prototype.hasOwnProperty.call(a, k) && !sameData(a[k], b[k])) return false;
  return true;
}

/** A link's fields that differ, in a list built only when one does (a converged tick compares every link). */
function changedLinkFields(d: LinkObject, o: LinkObject): string[] {
  const up = d.up !== o.up;
  const mtu = d.mtu !== undefined && d.mtu !== o.mtu;
  const gso = d.gsoMaxSize !== undefined && d.gsoMaxSize !== o.gsoMaxSize;
  const master = d.master !== o.master && d.spec.kind !== 'external';
  if (!up && !mtu && !gso && !master) return NO_FIELDS;
  const fields: string[] = [];
  if (up) fields.push('up');
  if (mtu) fields.push('mtu');
  if (gso) fields.push('gsoMaxSize');
  if (master) fields.push('master');
  return fields;
}

/** What changedLinkFields returns for a link that is the same: never handed out (changedOrSame answers SAME). */
const NO_FIELDS: string[] = [];

const near = (x: number, y: number, tolerance: number): boolean => Math.abs(x - y) <= tolerance;

/**
 * The kernel keeps rates in bytes/s and bursts in timer ticks, so values read back are
 * rounded; differences within that rounding are not changes (or every tick would
 * rewrite every class).
 */
function changedClassFields(a: KernelObject & { type: 'class' } extends { spec: infer S } ? S : never, b: typeof a): string[] {
  const fields: string[] = [];
  if (!near(a.rate, b.rate, 8)) fields.push('rate');
  if (!near(a.ceil, b.ceil, 8)) fields.push('ceil');
  if (!near(a.burst, b.burst, Math.max(64, a.burst * 0.02))) fields.push('burst');
  if (!near(a.cburst, b.cburst, Math.max(64, a.cburst * 0.02))) fields.push('cburst');
  if (a.prio !== b.prio) fields.push('prio');
  if (a.quantum !== b.quantum) fields.push('quantum');
  return fields;
}

/** changedClassFields(a, b) is empty, without building it (a converged tick asks for every class). */
function sameClassSpec(a: ClassSpec, b: ClassSpec): boolean {
  return (
    near(a.rate, b.rate, 8) &&
    near(a.ceil, b.ceil, 8) &&
    near(a.burst, b.burst, Math.max(64, a.burst * 0.02)) &&
    near(a.cburst, b.cburst, Math.max(64, a.cburst * 0.02)) &&
    a.prio === b.prio &&
    a.quantum === b.quantum
  );
}

/** Everything the kernel removes along with `removed` (including `removed`). */
function cascade(removed: readonly KernelObject[], all: readonly KernelObject[]): Set<string> {
  const qdiscs = qdiscIndex(all);
  const children = new Map<string, string[]>();
  for (const o of all) {
    const key = objectKey(o);
    for (const parent of parentKeys(o, qdiscs)) {
      const list = children.get(parent);
      if (list) list.push(key);
      else children.set(parent, [key]);
    }
  }
  const gone = new Set(removed.map(objectKey));
  const queue = [...gone];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (!gone.has(child)) {
        gone.add(child);
        queue.push(child);
      }
    }
  }
  return gone;
}

/**
 * Removed objects whose removal another removal already causes get no delete of their
 * own. A veth end is not implied by its peer here: dedupeVethPairs keeps one of the two.
 */
function impliedRemovals(removed: readonly KernelObject[], all: readonly KernelObject[]): Set<KernelObject> {
  const qdiscs = qdiscIndex(all);
  const removedKeys = new Set(removed.map(objectKey));
  // Deleting a namespace also destroys veths whose other end lives in it.
  const parentsOf = (o: KernelObject): string[] =>
    o.type === 'link' ? [`netns/${o.netns}`, ...(o.spec.kind === 'veth' ? [`netns/${o.spec.peerNetns}`] : [])] : parentKeys(o, qdiscs);
  return new Set(removed.filter((o) => parentsOf(o).some((k) => removedKeys.has(k))));
}

type QdiscIndex = ReadonlyMap<string, string>;

/** (netns, dev, handle major) → key of the qdisc with that handle. */
function qdiscIndex(all: readonly KernelObject[]): QdiscIndex {
  const index = new Map<string, string>();
  for (const o of all) if (o.type === 'qdisc') index.set(`${o.netns}/${o.dev}/${majorOf(o.handle)}`, objectKey(o));
  return index;
}

/** Keys of the objects whose deletion makes the kernel delete `o` too. */
function parentKeys(o: KernelObject, qdiscs: QdiscIndex): string[] {
  if (o.type === 'namespace' || o.type === 'cgroup-classid') return [];
  const keys = [`netns/${o.netns}`];
  if (o.type === 'sysctl') return keys;
  if (o.type === 'link') {
    if (o.spec.kind === 'veth') keys.push(`${o.spec.peerNetns}/link/${o.spec.peerName}`);
    return keys;
  }
  if (o.type === 'route') return o.dev ? [...keys, `${o.netns}/link/${o.dev}`] : keys;
  keys.push(`${o.netns}/link/${o.dev}`);
  const qdiscOf = (major: number): string | undefined => qdiscs.get(`${o.netns}/${o.dev}/${major}`);
  if (o.type === 'class') keys.push(...defined(qdiscOf(majorOf(o.classid))));
  if (o.type === 'filter') keys.push(...defined(qdiscOf(majorOf(o.parent))));
  // A root qdisc's parent (ffff:ffff) has the ingress qdisc's major: it is no child of it.
  if (o.type === 'qdisc' && minorOf(o.parent) !== 0 && o.parent !== TC_H_ROOT && o.parent !== TC_H_INGRESS) {
    keys.push(classKey(o.netns, o.dev, o.parent));
    if (majorOf(o.parent) !== majorOf(o.handle)) keys.push(...defined(qdiscOf(majorOf(o.parent))));
  }
  return keys;
}

const defined = (k: string | undefined): string[] => (k === undefined ? [] : [k]);

function isPeerOf(a: LinkObject, b: LinkObject): boolean {
  return a.spec.kind === 'veth' && b.spec.kind === 'veth' && a.spec.peerName === b.name && a.spec.peerNetns === b.netns;
}

/** A veth pair is one kernel object: create or delete it once, from its first end. */
function dedupeVethPairs(objects: readonly KernelObject[]): KernelObject[] {
  const keptVeths = new LinkIndex();
  return objects.filter((o) => !isSecondVethEnd(o, keptVeths));
}

/** Whether `o` is the other end of a veth already kept (if not and it is a veth, it is kept now). */
function isSecondVethEnd(o: KernelObject, keptVeths: LinkIndex): boolean {
  return keptEndOf(o, keptVeths) !== undefined;
}

/** The kept end of the veth whose other end `o` is; undefined if none (and `o`, a veth, is kept now). */
function keptEndOf(o: KernelObject, keptVeths: LinkIndex): LinkObject | undefined {
  if (o.type !== 'link' || o.spec.kind !== 'veth') return undefined;
  const peer = keptVeths.get(o.spec.peerNetns, o.spec.peerName);
  if (peer && isPeerOf(o, peer)) return peer;
  keptVeths.set(o);
  return undefined;
}

/** The loopbacks of namespaces nothing was observed in: as the namespace's creation left them, made as desired. */
function loopbacksOfNewNamespaces(want: ReadonlyMap<string, KernelObject>, have: ReadonlyMap<string, KernelObject>, gone: ReadonlySet<string>): Operation[] {
  const fresh = (ns: string): boolean => !have.has(`netns/${ns}`) || gone.has(`netns/${ns}`);
  const out: Operation[] = [];
  for (const o of want.values()) {
    if (o.type !== 'link' || o.spec.kind !== 'external' || o.name !== 'lo' || !fresh(o.netns)) continue;
    const change = loopbackChange(o, want.has(`netns/${o.netns}`));
    if (change) out.push(change);
  }
  return out;
}

/**
 * A namespace the plan creates comes with lo up (the executor's createNetns); one it
 * does not create, never observed, is taken to have lo down as the kernel makes it. A
 * change only where the loopback is desired otherwise: none for Sluice's namespaces.
 */
function loopbackChange(lo: LinkObject, createdByPlan: boolean): Operation | undefined {
  if (lo.up === createdByPlan) return undefined;
  const before: LinkObject = { type: 'link', netns: lo.netns, name: lo.name, up: createdByPlan, spec: lo.spec };
  return { op: 'change', object: lo, before, fields: UP };
}

// ---------------------------------------------------------------- the converged fast path

/**
 * Whether diff(desired, observed) is empty, decided without the string-keyed indexes
 * of both states the general path builds: a reconcile tick on a converged kernel (the
 * usual case) compares tens of thousands of objects and should cost little. Answers
 * false whenever it is not sure (a desired object missing, one that differs, an
 * observed one left over); the general path then decides. Observed duplicates of one
 * key count as the last of them, as in the general path's index.
 */
function isConverged(desired: KernelState, observed: KernelState): boolean {
  const index = new ObservedIndex();
  forEachMixed(stateLists(observed), (o) => {
    index.add(o);
    return true;
  });
  let matchedDeletable = 0;
  const converged = forEachMixed(stateLists(desired), (d) => {
    const at = index.find(d);
    if (at === undefined) return false;
    const o = index.objectAt(at);
    if (compare(d, o) !== SAME) return false;
    if (index.matchOnce(at) && deletable(o)) matchedDeletable++;
    // A desired loopback in a namespace not observed is brought up by the general path.
    return !(d.type === 'link' && d.spec.kind === 'external' && d.name === 'lo' && d.up && !index.hasNamespace(d.netns));
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
 * new one (5–6 times over a state). Meeting every type early, it is optimised once,
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
  /** By handle: the first filter with that handle. */
  readonly filters: Map<number, number>;
  /** By handle: the further filters sharing it, told apart by parent, prio and protocol. */
  readonly moreFilters: Map<number, number[]>;
}

/**
 * Observed objects found by the same identity as objectKey, without building key
 * strings. The maps hold each object's position (a small integer, kept in the map
 * itself) and whether it matched is a byte per position: an entry object per observed
 * object, and an array per filter handle, were 140,000 objects at 10,000 containers,
 * alive while a tick holds both compiled states and the plan (the peak of
 * bench/compile's RSS). Every add comes before the first matchOnce.
 */
class ObservedIndex {
  /** One object per identity (a later one with the same identity takes its place). */
  private readonly objects: KernelObject[] = [];
  private readonly namespaces = new PartIndex<NamespaceObject>(this.objects, WHOLE_IDENTITY);
  private readonly links = new PartIndex(this.objects, LINK_IDENTITY);
  private readonly addresses = new PartIndex(this.objects, ADDRESS_IDENTITY);
  private readonly routes = new PartIndex(this.objects, ROUTE_IDENTITY);
  private readonly sysctls = new PartIndex(this.objects, SYSCTL_IDENTITY);
  private readonly cgroups = new PartIndex<CgroupClassidObject>(this.objects, WHOLE_IDENTITY);
  private readonly devices = new Map<string, Map<string, DeviceIndex>>();
  /** The device device() found last. */
  private last: { readonly netns: string; readonly dev: string; readonly index: DeviceIndex } | undefined;
  private matched: Uint8Array | undefined;

  add(o: KernelObject): void {
    switch (o.type) {
      case 'qdisc':
        return this.put(this.device(o.netns, o.dev, true)!.qdiscs, o.parent >>> 0, o);
      case 'class':
        return this.put(this.device(o.netns, o.dev, true)!.classes, o.classid >>> 0, o);
      case 'filter':
        return this.addFilter(this.device(o.netns, o.dev, true)!, o);
      case 'namespace':
        return this.namespaces.add(o, o.name);
      case 'link':
        return this.links.add(o, o.name);
      case 'address':
        return this.addresses.add(o, o.cidr);
      case 'route':
        return this.routes.add(o, o.netns);
      case 'sysctl':
        return this.sysctls.add(o, o.netns);
      case 'cgroup-classid':
        return this.cgroups.add(o, o.cgroup);
      default:
        return assertNever(o);
    }
  }

  /** The position of the observed object with `o`'s identity, if any. */
  find(o: KernelObject): number | undefined {
    switch (o.type) {
      case 'qdisc':
        return this.device(o.netns, o.dev, false)?.qdiscs.get(o.parent >>> 0);
      case 'class':
        return this.device(o.netns, o.dev, false)?.classes.get(o.classid >>> 0);
      case 'filter': {
        const d = this.device(o.netns, o.dev, false);
        return d ? this.findFilter(d, o) : undefined;
      }
      case 'namespace':
        return this.namespaces.find(o, o.name);
      case 'link':
        return this.links.find(o, o.name);
      case 'address':
        return this.addresses.find(o, o.cidr);
      case 'route':
        return this.routes.find(o, o.netns);
      case 'sysctl':
        return this.sysctls.find(o, o.netns);
      case 'cgroup-classid':
        return this.cgroups.find(o, o.cgroup);
      default:
        return assertNever(o);
    }
  }

  objectAt(at: number): KernelObject {
    return this.objects[at]!;
  }

  /** Marks the object at `at` matched; whether it was not already. */
  matchOnce(at: number): boolean {
    const matched = (this.matched ??= new Uint8Array(this.objects.length));
    if (matched[at] === 1) return false;
    matched[at] = 1;
    return true;
  }

  hasNamespace(netns: string): boolean {
    return this.namespaces.hasFirst(netns);
  }

  /** Observed identities whose object may be deleted: each holds one position. */
  deletableCount(): number {
    let n = 0;
    for (let i = 0; i < this.objects.length; i++) if (deletable(this.objects[i]!)) n++;
    return n;
  }

  /** The last object added with an identity counts (as in a Map by objectKey). */
  private put<K>(positions: Map<K, number>, key: K, o: KernelObject): void {
    const at = positions.get(key);
    if (at === undefined) positions.set(key, this.objects.push(o) - 1);
    else this.objects[at] = o;
  }

  private addFilter(d: DeviceIndex, f: FilterObject): void {
    const handle = f.handle >>> 0;
    const first = d.filters.get(handle);
    if (first === undefined) {
      d.filters.set(handle, this.objects.push(f) - 1);
      return;
    }
    if (sameFilterIdentity(this.objects[first] as FilterObject, f)) {
      this.objects[first] = f;
      return;
    }
    const more = d.moreFilters.get(handle);
    const at = more ? this.filterAt(more, f) : -1;
    if (at >= 0) this.objects[more![at]!] = f;
    else if (more) more.push(this.objects.push(f) - 1);
    else d.moreFilters.set(handle, [this.objects.push(f) - 1]);
  }

  private findFilter(d: DeviceIndex, f: FilterObject): number | undefined {
    const handle = f.handle >>> 0;
    const first = d.filters.get(handle);
    if (first === undefined) return undefined;
    if (sameFilterIdentity(this.objects[first] as FilterObject, f)) return first;
    const more = d.moreFilters.get(handle);
    const at = more ? this.filterAt(more, f) : -1;
    return at >= 0 ? more![at] : undefined;
  }

  /**
   * Where among the positions of filters sharing a handle the one with `f`'s identity
   * is; -1 if none. A loop, not findIndex with a closure: this runs once per observed
   * and per desired filter.
   */
  private filterAt(positions: readonly number[], f: FilterObject): number {
    for (let i = 0; i < positions.length; i++) if (sameFilterIdentity(this.objects[positions[i]!] as FilterObject, f)) return i;
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
      d = { qdiscs: new Map(), classes: new Map(), filters: new Map(), moreFilters: new Map() };
      devs.set(dev, d);
    }
    return d;
  }
}

/**
 * An object type's identity (what objectKey spells out) in two parts: a first part, which
 * most objects of the type hold alone (ObservedIndex names it for each type: a link's
 * name, an address's cidr, a route's or sysctl's namespace), and the rest. Equal for two
 * objects exactly when their objectKeys are, device and link names holding no '/' (the
 * kernel allows none).
 */
interface Identity<O extends KernelObject> {
  /** The rest as one string: built only for objects whose first part is shared. */
  readonly rest: (o: O) => string;
  readonly sameRest: (a: O, b: O) => boolean;
}

/** A namespace's or cgroup's identity is its name alone. */
const WHOLE_IDENTITY: Identity<KernelObject> = { rest: () => '', sameRest: () => true };
/** By name first: a host-side veth's name is its own; lo and eth0 are in every container namespace. */
const LINK_IDENTITY: Identity<LinkObject> = { rest: (l) => l.netns, sameRest: (a, b) => a.netns === b.netns };
/** By cidr first. */
const ADDRESS_IDENTITY: Identity<AddressObject> = { rest: (a) => `${a.netns}/${a.dev}`, sameRest: (a, b) => a.netns === b.netns && a.dev === b.dev };
/** By namespace first: every container namespace has a default route. */
const ROUTE_IDENTITY: Identity<RouteObject> = { rest: (r) => r.dst, sameRest: (a, b) => a.dst === b.dst };
/** By namespace first. */
const SYSCTL_IDENTITY: Identity<SysctlObject> = { rest: (s) => s.key, sameRest: (a, b) => a.key === b.key };

/**
 * Positions in `objects` of one type's objects, by identity. Keyed by the identity's
 * first part, as the objects' own strings: V8 keeps a string's hash in it, so a lookup
 * hashes nothing new, where building an objectKey string per object and hashing it was
 * most of a no-op diff (60,000 keys a side at 10,000 containers, 1 µs each). A first
 * part several objects hold gets a map by the rest.
 */
class PartIndex<O extends KernelObject> {
  private readonly byFirst = new Map<string, number | Map<string, number>>();

  constructor(
    private readonly objects: KernelObject[],
    private readonly identity: Identity<O>,
  ) {}

  /** Adds `o`, whose identity starts with `first`, or puts it in place of the object with its identity (the last one counts). */
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

/** The rest of a filter's objectKey besides its device and handle: parent, prio, protocol. */
const sameFilterIdentity = (e: FilterObject, f: FilterObject): boolean => e.parent >>> 0 === f.parent >>> 0 && e.prio === f.prio && e.protocol === f.protocol;
