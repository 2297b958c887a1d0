// Ownership by record (pure): which observed objects are Sluice's to change or delete.
//
// The rule: an object is Sluice's when its record says Sluice created it (the record is
// written, and synced, before the create is sent). One exception: everything inside an
// HTB tree whose root qdisc Sluice recorded (its classes, their leaf qdiscs, the filters
// attached to it) is Sluice's too. Sluice numbers that tree's classes, a stranger's class
// or filter in it would take from the guarantees, and the kernel deletes the whole tree
// with its root anyway. An ingress or clsact qdisc is not such a tree: it is a hook other
// tools attach filters to, so its filters are Sluice's only by record.
//
// Deleting a namespace, a device or a qdisc deletes what is inside it. A recorded one
// that holds a foreign object is therefore kept ("pinned"): its recorded contents are
// deleted one by one instead, and it stays in the record.

import { majorOf, TC_H_INGRESS, TC_H_ROOT } from '../tc/handle';
import { type KernelObject, type KernelState, type LinkObject, type LinkSpec, type NetnsLocator, type ObservedState } from '../tc/model';
import { deviceKey, namespaceKey, objectKey, treeKey } from '../tc/identity';
import type { Plan } from '../tc/operation';

/** What a record says Sluice created; a record without object keys (format 1) is read by its older rule. */
export interface RecordedOwnership {
  readonly namespaces: readonly string[];
  /** Full object keys (objectKey) of everything else; undefined for a format-1 record. */
  readonly keys?: ReadonlySet<string>;
  /** Format 1: devices it created in namespaces it did not create. */
  readonly legacyLinks?: readonly { readonly netns: NetnsLocator; readonly dev: string }[];
}

/** exists: Sluice would create over it; differs: change it; other-kind: delete it to make a device of another kind under its name. */
export type ConflictReason = 'exists' | 'differs' | 'other-kind';

/** An object the plan would create, change or delete that Sluice did not create. */
export type ForeignConflict =
  | { readonly reason: Exclude<ConflictReason, 'other-kind'>; readonly object: KernelObject }
  /** `wanted`: the kind of device the policy wants under that name. */
  | { readonly reason: 'other-kind'; readonly object: LinkObject; readonly wanted: LinkSpec['kind'] };

/** The kind of each link the desired state makes, by objectKey. */
export type DesiredLinkKinds = ReadonlyMap<string, LinkSpec['kind']>;

export interface OwnershipView {
  /** The observed objects Sluice owns, plus foreign ones the desired state names (shared, never deleted). */
  readonly observed: ObservedState;
  /** Observed objects Sluice did not create and the desired state does not name: left alone. */
  readonly foreign: readonly KernelObject[];
  /** Recorded objects that hold foreign ones: kept, their recorded contents deleted one by one. */
  readonly pinned: readonly KernelObject[];
  /** Objects Sluice would have to create over, or change, although it did not create them. */
  readonly conflicts: readonly ForeignConflict[];
  /** Keys of the foreign objects the desired state names (so that no plan touches them). */
  readonly shared: ReadonlySet<string>;
}

/** The tree a tc object hangs in: the major of the qdisc it belongs to (undefined for a root qdisc itself). */
function treeMajorOf(o: KernelObject): number | undefined {
  if (o.type === 'class') return majorOf(o.classid);
  if (o.type === 'filter') return majorOf(o.parent);
  if (o.type === 'qdisc' && o.parent !== TC_H_ROOT && o.parent !== TC_H_INGRESS) return majorOf(o.parent);
  return undefined;
}

/** Devices (and namespaces) the kernel never lets anybody delete, or Sluice never deletes: not counted as foreign. */
/** The device an object sits on, if any. */
const deviceOf = (o: KernelObject): string | undefined => (o.type === 'namespace' || o.type === 'cgroup-classid' || o.type === 'sysctl' || o.type === 'link' ? undefined : o.dev);

const neverDeleted = (o: KernelObject): boolean => (o.type === 'link' && o.spec.kind === 'external') || o.type === 'sysctl';

export class Ownership {
  private readonly namespaces: ReadonlySet<string>;
  private readonly legacyDevices: ReadonlySet<string> | undefined;

  constructor(private readonly record: RecordedOwnership | undefined) {
    this.namespaces = new Set(record?.namespaces ?? []);
    this.legacyDevices = record && !record.keys ? new Set((record.legacyLinks ?? []).map((d) => deviceKey(d.netns, d.dev))) : undefined;
  }

  /** Whether the record alone says Sluice created `o` (the HTB-tree rule aside). */
  recorded(o: KernelObject, key: string = objectKey(o)): boolean {
    if (o.type === 'namespace') return this.namespaces.has(o.name);
    if (this.record?.keys) return this.record.keys.has(key);
    if (o.type === 'cgroup-classid') return this.legacyDevices !== undefined;
    // Format 1: everything in a namespace it created, and what is on a device it recorded.
    if (!this.legacyDevices) return false;
    if (this.namespaces.has(o.netns)) return true;
    const dev = o.type === 'link' ? o.name : deviceOf(o);
    return dev !== undefined && this.legacyDevices.has(deviceKey(o.netns, dev));
  }

  /**
   * Splits an observation into what Sluice owns and what it must leave alone, and finds
   * the objects the desired state would take over although Sluice did not create them.
   */
  view(observed: ObservedState, desiredKeys: ReadonlySet<string>, desiredLinks: DesiredLinkKinds = new Map()): OwnershipView {
    const trees = new Set<string>();
    for (const q of observed.qdiscs) if (q.spec.kind === 'htb' && this.recorded(q)) trees.add(treeKey(q.netns, q.dev, majorOf(q.handle)));
    const foreign: KernelObject[] = [];
    const conflicts: ForeignConflict[] = [];
    const shared = new Set<string>();
    const keep = <T extends KernelObject>(list: readonly T[]): T[] => {
      const out: T[] = [];
      for (const o of list) {
        const key = objectKey(o);
        const major = treeMajorOf(o);
        const dev = deviceOf(o);
        const inTree = major !== undefined && dev !== undefined && o.type !== 'namespace' && o.type !== 'cgroup-classid' && trees.has(treeKey(o.netns, dev, major));
        const wanted = o.type === 'link' ? desiredLinks.get(key) : undefined;
        if (o.type === 'link' && wanted !== undefined && wanted !== 'external' && wanted !== o.spec.kind && !this.recorded(o, key)) {
          // A device of another kind (lo, a NIC, a stranger's veth or IFB) under the name the
          // policy gives one of its own: the diff would replace it, deleting what is not Sluice's.
          conflicts.push({ reason: 'other-kind', object: o, wanted });
          out.push(o);
        } else if (neverDeleted(o) || inTree || this.recorded(o, key)) {
          out.push(o);
        } else if (desiredKeys.has(key)) {
          // Something Sluice would create is already there and is not its own.
          if (o.type === 'namespace' || o.type === 'link') conflicts.push({ reason: 'exists', object: o });
          shared.add(key);
          out.push(o);
        } else {
          foreign.push(o);
        }
      }
      return out;
    };
    const view: ObservedState = {
      ...observed,
      namespaces: keep(observed.namespaces),
      links: keep(observed.links),
      addresses: keep(observed.addresses),
      routes: keep(observed.routes),
      qdiscs: keep(observed.qdiscs),
      classes: keep(observed.classes),
      filters: keep(observed.filters),
      cgroups: keep(observed.cgroups),
    };
    return { observed: view, foreign, pinned: pinnedBy(view, foreign, desiredKeys), conflicts, shared };
  }
}

/** Recorded namespaces, devices and qdiscs that are not desired and hold a foreign object. */
function pinnedBy(view: ObservedState, foreign: readonly KernelObject[], desiredKeys: ReadonlySet<string>): KernelObject[] {
  const holders = new Set<string>();
  const hold = (o: KernelObject): void => {
    if (o.type === 'namespace' || o.type === 'cgroup-classid') return;
    holders.add(namespaceKey(o.netns));
    const dev = deviceOf(o);
    if (dev === undefined) return;
    holders.add(deviceKey(o.netns, dev));
    const major = treeMajorOf(o);
    if (major !== undefined) holders.add(treeKey(o.netns, dev, major));
  };
  for (const o of foreign) hold(o);
  // A device of a kind Sluice never makes (reported as external) dies with its namespace too.
  for (const l of view.links) if (l.spec.kind === 'external' && l.name !== 'lo' && !desiredKeys.has(objectKey(l))) holders.add(namespaceKey(l.netns));
  if (holders.size === 0) return [];
  const pinned: KernelObject[] = [];
  const consider = (o: KernelObject, holderKey: string): void => {
    if (holders.has(holderKey) && !desiredKeys.has(objectKey(o))) pinned.push(o);
  };
  for (const n of view.namespaces) consider(n, namespaceKey(n.name));
  for (const l of view.links) if (l.spec.kind !== 'external') consider(l, deviceKey(l.netns, l.name));
  for (const q of view.qdiscs) if (q.parent === TC_H_ROOT || q.parent === TC_H_INGRESS) consider(q, treeKey(q.netns, q.dev, majorOf(q.handle)));
  return pinned;
}

/** The desired state with the pinned objects kept as they are. */
export function withPinned(desired: KernelState, pinned: readonly KernelObject[]): KernelState {
  if (pinned.length === 0) return desired;
  const of = <T extends KernelObject['type']>(type: T): Extract<KernelObject, { type: T }>[] => pinned.filter((o): o is Extract<KernelObject, { type: T }> => o.type === type);
  return {
    ...desired,
    namespaces: [...desired.namespaces, ...of('namespace')],
    links: [...desired.links, ...of('link')],
    qdiscs: [...desired.qdiscs, ...of('qdisc')],
  };
}

/** Operations of `plan` that would change or delete an object Sluice shares but did not create. */
export function touchesShared(plan: Plan, shared: ReadonlySet<string>): ForeignConflict[] {
  if (shared.size === 0) return [];
  const out: ForeignConflict[] = [];
  for (const op of plan) if (op.op !== 'create' && shared.has(objectKey(op.op === 'change' ? op.before : op.object))) out.push({ reason: 'differs', object: op.object });
  return out;
}

/**
 * The keys a plan's creates will make exist: what must be in the record before it is
 * sent. A veth is made with its peer, so both ends are.
 */
export function createdObjects(plan: Plan): KernelObject[] {
  const out: KernelObject[] = [];
  for (const op of plan) {
    if (op.op !== 'create') continue;
    const o = op.object;
    out.push(o);
    if (o.type === 'link' && o.spec.kind === 'veth') out.push({ type: 'link', netns: o.spec.peerNetns, name: o.spec.peerName, up: false, spec: { kind: 'veth', peerName: o.name, peerNetns: o.netns } });
  }
  return out;
}
