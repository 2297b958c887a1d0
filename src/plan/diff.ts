// diff(desired, observed) → the ordered operations that make observed equal desired.
// Pure. Objects the kernel removes by itself (everything inside a deleted namespace,
// on a deleted device, under a deleted qdisc or class) get no delete of their own, and
// are recreated if still desired; a converged state yields an empty plan.

import { majorOf, minorOf } from '../tc/handle';
import { assertNever, objectKey, type KernelObject, type KernelState, type LinkObject } from '../tc/model';
import type { Operation, Plan } from './model';
import { createRank } from './order';

export function diff(desired: KernelState, observed: KernelState): Plan {
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
  const removed = [...have.entries()].filter(([key, o]) => (!want.has(key) && deletable(o)) || replaced.has(key)).map(([, o]) => o);
  const gone = cascade(removed, [...have.values()]);
  const explicitDeletes = removed.filter((o) => !impliedBy(o, removed));
  const deletes = dedupeVethPairs(explicitDeletes).sort((a, b) => createRank(b) - createRank(a)).map((o): Operation => ({ op: 'delete', object: o }));
  const creates = dedupeVethPairs([...want.values()].filter((d) => creatable(d) && (!have.has(objectKey(d)) || gone.has(objectKey(d)))))
    .map((o): Operation => ({ op: 'create', object: o }));
  const liveChanges = [...changes.filter((c) => !gone.has(objectKey(c.object))), ...loopbacksOfNewNamespaces(want, have, gone)];
  const forward = [...creates, ...liveChanges].sort((a, b) => createRank(a.object) - createRank(b.object));
  return [...deletes, ...withPeerUp(forward, want)];
}

export function flatten(s: KernelState): KernelObject[] {
  return [...s.namespaces, ...s.links, ...s.addresses, ...s.routes, ...s.sysctls, ...s.qdiscs, ...s.classes, ...s.filters, ...s.cgroups];
}

function indexByKey(objects: readonly KernelObject[]): Map<string, KernelObject> {
  return new Map(objects.map((o) => [objectKey(o), o]));
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
        ...(d.master !== ol.master && d.spec.kind !== 'external' ? ['master'] : []),
      ];
      return fields.length ? { kind: 'change', fields } : { kind: 'same' };
    }
    case 'route':
      return sameJson(d, o) ? { kind: 'same' } : { kind: 'replace' };
    case 'sysctl':
    case 'cgroup-classid':
      return sameJson(d, o) ? { kind: 'same' } : { kind: 'change', fields: ['value'] };
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
      return sameJson(d, o) ? { kind: 'same' } : { kind: 'replace' };
    case 'namespace':
    case 'address':
      return { kind: 'same' };
    default:
      return assertNever(d);
  }
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function changedFields<T extends object>(a: T, b: T): string[] {
  return Object.keys(a).filter((k) => !sameJson(a[k as keyof T], b[k as keyof T]));
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
  const gone = new Set(removed.map(objectKey));
  let grew = true;
  while (grew) {
    grew = false;
    for (const o of all) {
      const key = objectKey(o);
      if (gone.has(key)) continue;
      if (dependsOnAny(o, all.filter((p) => gone.has(objectKey(p))))) {
        gone.add(key);
        grew = true;
      }
    }
  }
  return gone;
}

function impliedBy(o: KernelObject, removed: readonly KernelObject[]): boolean {
  return dependsOnAny(o, removed.filter((r) => r !== o));
}

function dependsOnAny(o: KernelObject, parents: readonly KernelObject[]): boolean {
  return parents.some((p) => dependsOn(o, p));
}

/** True when the kernel deletes `o` as a consequence of deleting `p`. */
export function dependsOn(o: KernelObject, p: KernelObject): boolean {
  if (o === p) return false;
  if (p.type === 'namespace') return o.type !== 'namespace' && o.type !== 'cgroup-classid' && o.netns === p.name;
  if (o.type === 'namespace' || o.type === 'cgroup-classid' || o.type === 'sysctl') return false;
  if (p.type === 'link') {
    if (o.type === 'link') return isPeerOf(o, p);
    if (o.netns !== p.netns) return false;
    if (o.type === 'route') return o.dev === p.name;
    return o.dev === p.name;
  }
  if (o.type === 'link' || o.type === 'address' || o.type === 'route') return false;
  if ((p.type !== 'qdisc' && p.type !== 'class') || o.netns !== p.netns || o.dev !== p.dev) return false;
  if (p.type === 'qdisc') {
    const major = majorOf(p.handle);
    if (o.type === 'class') return majorOf(o.classid) === major;
    if (o.type === 'filter') return majorOf(o.parent) === major;
    if (o.type === 'qdisc') return majorOf(o.parent) === major && minorOf(o.parent) !== 0 && o.parent !== p.parent;
  }
  if (p.type === 'class' && o.type === 'qdisc') return o.parent === p.classid;
  return false;
}

function isPeerOf(a: LinkObject, b: LinkObject): boolean {
  return a.spec.kind === 'veth' && b.spec.kind === 'veth' && a.spec.peerName === b.name && a.spec.peerNetns === b.netns;
}

/** A new namespace comes with its loopback down; bring it up as desired. */
function loopbacksOfNewNamespaces(want: ReadonlyMap<string, KernelObject>, have: ReadonlyMap<string, KernelObject>, gone: ReadonlySet<string>): Operation[] {
  const fresh = (ns: string): boolean => !have.has(`netns/${ns}`) || gone.has(`netns/${ns}`);
  return [...want.values()]
    .filter((o): o is LinkObject => o.type === 'link' && o.spec.kind === 'external' && o.name === 'lo' && o.up && fresh(o.netns))
    .map((o): Operation => ({ op: 'change', object: o, before: { ...o, up: false }, fields: ['up'] }));
}

/** A veth pair is one kernel object: create or delete it once, from its first end. */
function dedupeVethPairs(objects: readonly KernelObject[]): KernelObject[] {
  const kept: KernelObject[] = [];
  for (const o of objects) {
    if (o.type === 'link' && kept.some((k) => k.type === 'link' && isPeerOf(o, k))) continue;
    kept.push(o);
  }
  return kept;
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
