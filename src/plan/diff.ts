// diff(desired, observed) → the ordered operations that make observed equal desired.
// Pure. Objects the kernel removes by itself (everything inside a deleted namespace,
// on a deleted device, under a deleted qdisc or class) get no delete of their own, and
// are recreated if still desired; a converged state yields an empty plan. Two fast paths
// give the same plans for the common cases: a fresh machine (fresh.ts) and a converged
// one (converged.ts).

import { majorOf, minorOf, TC_H_INGRESS, TC_H_ROOT } from '../tc/handle';
import { classKey, linkKey, namespaceKey, objectKey, treeKey } from '../tc/identity';
import { stateLists, stateSize, type KernelObject, type KernelState } from '../tc/model';
import { compare, creatable, deletable, raisedOutOfDebt } from './compare';
import { isConverged } from './converged';
import { fromNothing } from './fresh';
import { dedupeVethPairs, isLoopback, loopbackChange } from './links';
import type { Operation, Plan } from '../tc/operation';
import { createRank, QdiscNesting } from './order';
import { RankedOperations, sortByRank } from './ranked';

export function diff(desired: KernelState, observed: KernelState): Plan {
  if (stateSize(observed) === 0) return fromNothing(desired);
  if (isConverged(desired, observed)) return [];
  const want = indexByKey(desired);
  const have = indexByKey(observed);
  const replaced = new Set<string>();
  const changes: Operation[] = [];
  const outOfDebt = new DebtReplacements(desired);
  for (const [key, d] of want) {
    const o = have.get(key);
    if (!o) continue;
    const verdict = compare(d, o);
    if (verdict.kind === 'replace' || (verdict.kind === 'change' && outOfDebt.replaces(d, o))) replaced.add(key);
    else if (verdict.kind === 'change') changes.push({ op: 'change', object: d, before: o, fields: verdict.fields });
  }
  if (replaced.size > 0) replaceFiltersOf(replaced, want, have);
  const removed: KernelObject[] = [];
  // A device Sluice did not make is never deleted, not even to replace it by one of its own
  // (the ownership check refuses such a policy first, EFOREIGN).
  for (const [key, o] of have) if ((!want.has(key) || replaced.has(key)) && deletable(o)) removed.push(o);
  const nothingRemoved = removed.length === 0;
  const gone = nothingRemoved ? new Set<string>() : cascade(removed, [...have.values()]);
  const implied = nothingRemoved ? new Set<KernelObject>() : impliedRemovals(removed, [...have.values()]);
  const observedNesting = nothingRemoved ? undefined : QdiscNesting.of(observed.qdiscs);
  const deletes = sortByRank(dedupeVethPairs(removed.filter((o) => !implied.has(o))), (o) => -createRank(o, observedNesting)).map((o): Operation => ({ op: 'delete', object: o }));
  const toCreate: KernelObject[] = [];
  for (const [key, d] of want) if (creatable(d) && (!have.has(key) || gone.has(key))) toCreate.push(d);
  const forward = new RankedOperations(QdiscNesting.of(desired.qdiscs));
  for (const o of dedupeVethPairs(toCreate)) forward.add({ op: 'create', object: o });
  for (const op of changes) if (!gone.has(objectKey(op.object))) forward.add(op);
  for (const op of loopbacksOfNewNamespaces(want, have, gone)) forward.add(op);
  return [...deletes, ...forward.ordered((veth) => want.get(linkKey(veth.spec.peerNetns, veth.spec.peerName)))];
}

/**
 * Which changed classes are replaced instead, to shed HTB's token debt (raisedOutOfDebt).
 * A group's or a set's class (an HTB of its own below it) is changed even then: replacing
 * it would rebuild its whole HTB and drop every member's queue. Its debt stays
 * (docs/decisions.md, "The zero's cause").
 */
class DebtReplacements {
  /** Classes with an HTB below them, indexed once, and only when a class is raised out of debt. */
  private withHtbBelow: Set<string> | undefined;

  constructor(private readonly desired: KernelState) {}

  replaces(d: KernelObject, o: KernelObject): boolean {
    if (d.type !== 'class' || o.type !== 'class' || !raisedOutOfDebt(d.spec, o.spec)) return false;
    this.withHtbBelow ??= new Set(this.desired.qdiscs.filter((q) => q.spec.kind === 'htb').map((q) => classKey(q.netns, q.dev, q.parent)));
    return !this.withHtbBelow.has(classKey(d.netns, d.dev, d.classid));
  }
}

/**
 * Filters that send packets to a replaced class are replaced with it: the kernel refuses
 * to delete a class a filter points to (EBUSY, "class in use"), so they go first and
 * come back after it. Packets of that class meanwhile meet no filter of its HTB.
 */
function replaceFiltersOf(replaced: Set<string>, want: ReadonlyMap<string, KernelObject>, have: ReadonlyMap<string, KernelObject>): void {
  const classes = new Set<string>();
  for (const key of replaced) {
    const o = have.get(key);
    if (o?.type === 'class') classes.add(key);
  }
  if (classes.size === 0) return;
  for (const [key, o] of have) {
    if (o.type !== 'filter' || !want.has(key) || o.spec.kind === 'foreign') continue;
    const classid = o.spec.classid;
    if (classid !== undefined && classes.has(classKey(o.netns, o.dev, classid))) replaced.add(key);
  }
}

function indexByKey(s: KernelState): Map<string, KernelObject> {
  const index = new Map<string, KernelObject>();
  for (const list of stateLists(s)) for (const o of list) index.set(objectKey(o), o);
  return index;
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
 * own. A veth end is not implied by its peer (nor by its peer's namespace): dedupeVethPairs
 * keeps one of the two.
 */
function impliedRemovals(removed: readonly KernelObject[], all: readonly KernelObject[]): Set<KernelObject> {
  const qdiscs = qdiscIndex(all);
  const removedKeys = new Set(removed.map(objectKey));
  // Deleting a namespace also destroys veths whose other end lives in it, but only when
  // the kernel gets round to cleaning the namespace up (cleanup_net, a workqueue that can
  // lag many seconds behind on a busy host): the end in a namespace that stays is deleted
  // explicitly, so that it is gone when the plan is done.
  const parentsOf = (o: KernelObject): string[] => (o.type === 'link' ? [namespaceKey(o.netns)] : parentKeys(o, qdiscs));
  return new Set(removed.filter((o) => parentsOf(o).some((k) => removedKeys.has(k))));
}

type QdiscIndex = ReadonlyMap<string, string>;

/** (netns, dev, handle major) → key of the qdisc with that handle. */
function qdiscIndex(all: readonly KernelObject[]): QdiscIndex {
  const index = new Map<string, string>();
  for (const o of all) if (o.type === 'qdisc') index.set(treeKey(o.netns, o.dev, majorOf(o.handle)), objectKey(o));
  return index;
}

/** Keys of the objects whose deletion makes the kernel delete `o` too. */
function parentKeys(o: KernelObject, qdiscs: QdiscIndex): string[] {
  if (o.type === 'namespace' || o.type === 'cgroup-classid') return [];
  const keys = [namespaceKey(o.netns)];
  if (o.type === 'sysctl') return keys;
  if (o.type === 'link') {
    if (o.spec.kind === 'veth') keys.push(linkKey(o.spec.peerNetns, o.spec.peerName));
    return keys;
  }
  if (o.type === 'route') return o.dev ? [...keys, linkKey(o.netns, o.dev)] : keys;
  keys.push(linkKey(o.netns, o.dev));
  const qdiscOf = (major: number): string | undefined => qdiscs.get(treeKey(o.netns, o.dev, major));
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

/** The loopbacks of namespaces nothing was observed in: as the namespace's creation left them, made as desired. */
function loopbacksOfNewNamespaces(want: ReadonlyMap<string, KernelObject>, have: ReadonlyMap<string, KernelObject>, gone: ReadonlySet<string>): Operation[] {
  const fresh = (ns: string): boolean => !have.has(namespaceKey(ns)) || gone.has(namespaceKey(ns));
  const out: Operation[] = [];
  for (const o of want.values()) {
    if (!isLoopback(o) || !fresh(o.netns)) continue;
    const change = loopbackChange(o, want.has(namespaceKey(o.netns)));
    if (change) out.push(change);
  }
  return out;
}

