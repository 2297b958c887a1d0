// The order operations must run in: parents before children on create, children
// before parents on delete. One rank table, used in both directions.

import { TC_H_INGRESS, TC_H_ROOT, majorOf, minorOf } from '../tc/handle';
import { deviceKey, treeKey } from '../tc/identity';
import { assertNever, type ClassObject, type FilterObject, type KernelObject, type LinkObject, type NetnsLocator, type QdiscObject } from '../tc/model';

/**
 * Lower ranks are created first and deleted last. Each rank belongs to one object type.
 * `nesting` places the qdiscs and classes of nested HTB trees (a group's own HTB under
 * its class): without it every tc object is in a device's root tree.
 */
export function createRank(o: KernelObject, nesting?: QdiscNesting): number {
  switch (o.type) {
    case 'namespace':
      return NAMESPACE_RANK;
    case 'link':
      return linkRank(o);
    case 'address':
      return ADDRESS_RANK;
    case 'route':
      return ROUTE_RANK;
    case 'sysctl':
      return SYSCTL_RANK;
    case 'qdisc':
      return qdiscRank(o, nesting);
    case 'class':
      return classRank(o, nesting);
    case 'filter':
      return filterRank(o);
    case 'cgroup-classid':
      return CGROUP_RANK;
    default:
      return assertNever(o);
  }
}

// The rank of each type on its own, for callers that go through a state list by list
// and so know the type (the plan for a fresh machine): no switch on `type` per object,
// a property read that sees a dozen object shapes in a 120,000-object diff.

export const NAMESPACE_RANK = 0;
export const ADDRESS_RANK = 20;
export const ROUTE_RANK = 30;
export const SYSCTL_RANK = 35;
export const CGROUP_RANK = 80;

/** Bridges and IFBs first: veths name them as master or redirect target. */
export const linkRank = (l: LinkObject): number => (l.spec.kind === 'veth' ? 11 : 10);

/**
 * The ranks of one nesting level of HTB trees: its classes hanging off the qdisc, the
 * classes under them, then the qdiscs under its classes (leaves, and the next level's
 * HTBs, whose classes come after them). A device's root qdisc comes first of all.
 */
const ROOT_QDISC_RANK = 40;
const NESTING_STEP = 3;
/** Nesting levels the ranks have room for below the filters (a policy allows fewer: MAX_GROUP_DEPTH). */
export const MAX_NESTING = 8;

export const qdiscRank = (q: QdiscObject, nesting?: QdiscNesting): number =>
  q.parent === TC_H_ROOT || q.parent === TC_H_INGRESS ? ROOT_QDISC_RANK : ROOT_QDISC_RANK + NESTING_STEP + NESTING_STEP * levelOf(q, majorOf(q.parent), nesting);

/** A class hanging off its qdisc (minor 0 parent) before classes under it. */
export const classRank = (c: ClassObject, nesting?: QdiscNesting): number =>
  ROOT_QDISC_RANK + (minorOf(c.parent) === 0 ? 1 : 2) + NESTING_STEP * levelOf(c, majorOf(c.classid), nesting);

const levelOf = (o: { readonly netns: NetnsLocator; readonly dev: string }, major: number, nesting: QdiscNesting | undefined): number => (nesting === undefined ? 0 : nesting.level(o.netns, o.dev, major));

/** After every qdisc and class of any nesting level. */
const FILTER_RANK = ROOT_QDISC_RANK + NESTING_STEP * (MAX_NESTING + 2);

export function filterRank(f: FilterObject): number {
  if (f.spec.kind === 'u32' && f.spec.divisor !== undefined) return FILTER_RANK;
  // Table entries before the filter that links into the table, so lookups never
  // land in a half-filled table.
  if (f.spec.kind === 'u32' && f.spec.link !== undefined) return FILTER_RANK + 2;
  return FILTER_RANK + 1;
}

/**
 * How deep each HTB qdisc of a state is nested, by device and handle major: 0 for a
 * device's root qdisc, 1 for an HTB that is the leaf qdisc of one of its classes, and so
 * on. Undefined (of) when nothing is nested: flat trees need no lookup per object.
 */
export class QdiscNesting {
  private last: { readonly netns: NetnsLocator; readonly dev: string; readonly byMajor: Map<number, number> } | undefined;
  private readonly byDevice = new Map<string, Map<number, number>>();

  private constructor() {}

  static of(qdiscs: readonly QdiscObject[]): QdiscNesting | undefined {
    let nested: QdiscObject[] | undefined;
    for (let i = 0; i < qdiscs.length; i++) {
      const q = qdiscs[i]!;
      if (q.spec.kind === 'htb' && q.parent !== TC_H_ROOT && q.parent !== TC_H_INGRESS) (nested ??= []).push(q);
    }
    if (nested === undefined) return undefined;
    const n = new QdiscNesting();
    const parentOf = new Map(nested.map((q) => [treeKey(q.netns, q.dev, majorOf(q.handle)), majorOf(q.parent)]));
    for (const q of nested) {
      // Up the chain of parents to the root tree; a chain longer than MAX_NESTING is a loop or too deep to rank.
      let level = 0;
      let major = majorOf(q.handle);
      for (let key = treeKey(q.netns, q.dev, major); parentOf.has(key) && level <= MAX_NESTING; key = treeKey(q.netns, q.dev, major)) {
        major = parentOf.get(key)!;
        level++;
      }
      n.devices(q.netns, q.dev).set(majorOf(q.handle), Math.min(level, MAX_NESTING));
    }
    return n;
  }

  /** The nesting level of the tree whose qdisc has `major` on the device (0 when not nested). */
  level(netns: NetnsLocator, dev: string, major: number): number {
    const last = this.last;
    const byMajor = last !== undefined && last.netns === netns && last.dev === dev ? last.byMajor : this.lookUp(netns, dev);
    return byMajor?.get(major) ?? 0;
  }

  private lookUp(netns: NetnsLocator, dev: string): Map<number, number> | undefined {
    const byMajor = this.byDevice.get(deviceKey(netns, dev));
    if (byMajor !== undefined) this.last = { netns, dev, byMajor };
    return byMajor;
  }

  private devices(netns: NetnsLocator, dev: string): Map<number, number> {
    const key = deviceKey(netns, dev);
    let byMajor = this.byDevice.get(key);
    if (byMajor === undefined) this.byDevice.set(key, (byMajor = new Map()));
    return byMajor;
  }

}
