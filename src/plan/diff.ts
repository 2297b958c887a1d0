// diff(desired, observed) → the ordered operations that make observed equal desired.
// Pure. Objects the kernel removes by itself (everything inside a deleted namespace,
// on a deleted device, under a deleted qdisc or class) get no delete of their own, and
// are recreated if still desired; a converged state yields an empty plan.

import { majorOf, minorOf } from '../tc/handle';
import { assertNever, classKey, objectKey, type KernelObject, type KernelState, type LinkObject } from '../tc/model';
import type { Operation, Plan } from './model';
import { createRank } from './order';

export function diff(desired: KernelState, observed: KernelState): Plan {
  if (isEmptyState(observed)) return fromNothing(desired);
  const want = indexByKey(flatten(desired));
  const have = indexByKey(flatten(observed));
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
  const creates = dedupeVethPairs(toCreate).map((o): Operation => ({ op: 'create', object: o }));
  const liveChanges = [...changes.filter((c) => !gone.has(objectKey(c.object))), ...loopbacksOfNewNamespaces(want, have, gone)];
  const forward = sortByRank([...creates, ...liveChanges], (op) => createRank(op.object));
  return [...deletes, ...groupByNamespace(withPeerUp(forward, want))];
}

/**
 * After namespaces and devices exist, each namespace's operations run together, in rank
 * order: the executor sends one batch per namespace instead of one per operation when
 * thousands of containers each need an address, a route and their links up.
 */
function groupByNamespace(ops: readonly Operation[]): Operation[] {
  const first = (op: Operation): boolean => op.object.type === 'namespace' || (op.object.type === 'link' && op.op === 'create');
  const groups = new Map<string, Operation[]>();
  for (const op of ops) {
    if (first(op)) continue;
    const key = 'netns' in op.object ? op.object.netns : '';
    const group = groups.get(key);
    if (group) group.push(op);
    else groups.set(key, [op]);
  }
  const noNamespace = groups.get('') ?? [];
  groups.delete('');
  return [...ops.filter(first), ...[...groups.values()].flat(), ...noNamespace];
}

const isEmptyState = (s: KernelState): boolean => flattenLength(s) === 0;

const flattenLength = (s: KernelState): number =>
  s.namespaces.length + s.links.length + s.addresses.length + s.routes.length + s.sysctls.length + s.qdiscs.length + s.classes.length + s.filters.length + s.cgroups.length;

/**
 * A fresh machine: everything is created, so no index of 100,000 keys is needed to find
 * what differs (the same result as the general path, which a unit test checks).
 */
function fromNothing(desired: KernelState): Plan {
  const links = new Map(desired.links.map((l) => [objectKey(l), l as KernelObject]));
  const creates = dedupeVethPairs(flatten(desired).filter(creatable)).map((o): Operation => ({ op: 'create', object: o }));
  const loopbacks = desired.links
    .filter((o) => o.spec.kind === 'external' && o.name === 'lo' && o.up)
    .map((o): Operation => ({ op: 'change', object: o, before: { ...o, up: false }, fields: ['up'] }));
  return groupByNamespace(withPeerUp(sortByRank([...creates, ...loopbacks], (op) => createRank(op.object)), links));
}

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

function indexByKey(objects: readonly KernelObject[]): Map<string, KernelObject> {
  const index = new Map<string, KernelObject>();
  for (const o of objects) index.set(objectKey(o), o);
  return index;
}

/** Devices Sluice shapes but did not create, and sysctls, are never deleted. */
const deletable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external') && o.type !== 'sysctl';
const creatable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external');

type Verdict = { kind: 'same' } | { kind: 'change'; fields: string[] } | { kind: 'replace' };

function compare(d: KernelObject, o: KernelObject): Verdict {
  switch (d.type) {
    case 'link': {
      const ol = o as LinkObject;
      if (d.spec.kind !== ol.spec.kind && d.spec.kind !== 'external') return { kind: 'replace' };
      const fields = [
        ...(d.up !== ol.up ? ['up'] : []),
        ...(d.mtu !== undefined && d.mtu !== ol.mtu ? ['mtu'] : []),
        ...(d.gsoMaxSize !== undefined && d.gsoMaxSize !== ol.gsoMaxSize ? ['gsoMaxSize'] : []),
        ...(d.master !== ol.master && d.spec.kind !== 'external' ? ['master'] : []),
      ];
      return fields.length ? { kind: 'change', fields } : { kind: 'same' };
    }
    case 'route':
      return sameData(d, o) ? { kind: 'same' } : { kind: 'replace' };
    case 'sysctl':
    case 'cgroup-classid':
      return sameData(d, o) ? { kind: 'same' } : { kind: 'change', fields: ['value'] };
    case 'qdisc': {
      const oq = o as typeof d;
      if (d.spec.kind !== oq.spec.kind || d.handle !== oq.handle) return { kind: 'replace' };
      const fields = changedFields(d.spec, oq.spec);
      return fields.length ? { kind: 'change', fields } : { kind: 'same' };
    }
    case 'class': {
      const oc = o as typeof d;
      if (d.parent !== oc.parent) return { kind: 'replace' };
      const fields = changedClassFields(d.spec, oc.spec);
      return fields.length ? { kind: 'change', fields } : { kind: 'same' };
    }
    case 'filter':
      return sameData(d, o) ? { kind: 'same' } : { kind: 'replace' };
    case 'namespace':
    case 'address':
      return { kind: 'same' };
    default:
      return assertNever(d);
  }
}

/** Structural equality of plain data (what the model is made of); no allocation. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    if (ra[k] === undefined) continue;
    count++;
    if (!sameData(ra[k], rb[k])) return false;
  }
  for (const k in rb) if (rb[k] !== undefined) count--;
  return count === 0;
}


function changedFields<T extends object>(a: T, b: T): string[] {
  return Object.keys(a).filter((k) => !sameData(a[k as keyof T], b[k as keyof T]));
}

/**
 * The kernel keeps rates in bytes/s and bursts in timer ticks, so values read back are
 * rounded; differences within that rounding are not changes (or every tick would
 * rewrite every class).
 */
function changedClassFields(a: KernelObject & { type: 'class' } extends { spec: infer S } ? S : never, b: typeof a): string[] {
  const near = (x: number, y: number, tolerance: number): boolean => Math.abs(x - y) <= tolerance;
  const fields: string[] = [];
  if (!near(a.rate, b.rate, 8)) fields.push('rate');
  if (!near(a.ceil, b.ceil, 8)) fields.push('ceil');
  if (!near(a.burst, b.burst, Math.max(64, a.burst * 0.02))) fields.push('burst');
  if (!near(a.cburst, b.cburst, Math.max(64, a.cburst * 0.02))) fields.push('cburst');
  if (a.prio !== b.prio) fields.push('prio');
  if (a.quantum !== b.quantum) fields.push('quantum');
  return fields;
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
  if (o.type === 'qdisc' && minorOf(o.parent) !== 0) {
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
  const kept: KernelObject[] = [];
  const keptVeths = new Map<string, LinkObject>();
  for (const o of objects) {
    if (o.type === 'link' && o.spec.kind === 'veth') {
      const peer = keptVeths.get(`${o.spec.peerNetns}/link/${o.spec.peerName}`);
      if (peer && isPeerOf(o, peer)) continue;
      keptVeths.set(objectKey(o), o);
    }
    kept.push(o);
  }
  return kept;
}

/** A new namespace comes with its loopback down; bring it up as desired. */
function loopbacksOfNewNamespaces(want: ReadonlyMap<string, KernelObject>, have: ReadonlyMap<string, KernelObject>, gone: ReadonlySet<string>): Operation[] {
  const fresh = (ns: string): boolean => !have.has(`netns/${ns}`) || gone.has(`netns/${ns}`);
  return [...want.values()]
    .filter((o): o is LinkObject => o.type === 'link' && o.spec.kind === 'external' && o.name === 'lo' && o.up && fresh(o.netns))
    .map((o): Operation => ({ op: 'change', object: o, before: { ...o, up: false }, fields: ['up'] }));
}

/**
 * Creating one end of a veth creates the other, down; bring the peer up (and set its
 * other fields) with a change right after.
 */
function withPeerUp(ops: readonly Operation[], want: ReadonlyMap<string, KernelObject>): Operation[] {
  const out: Operation[] = [];
  for (const op of ops) {
    out.push(op);
    if (op.op !== 'create' || op.object.type !== 'link' || op.object.spec.kind !== 'veth') continue;
    const spec = op.object.spec;
    const peer = want.get(`${spec.peerNetns}/link/${spec.peerName}`);
    if (peer?.type === 'link' && peer.up) out.push({ op: 'change', object: peer, before: { ...peer, up: false }, fields: ['up'] });
  }
  return out;
}
