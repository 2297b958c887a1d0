// Groups: sets of containers (a tenant, a team, a Kubernetes namespace) that share one
// guarantee and one ceiling, nested at most MAX_GROUP_LEVELS deep. Here: every parent
// known and no cycle, ceilings defaulted down the tree and never above the parent's, and
// what each level hands out (its children's guarantees) fitting what it has. Pure.
//
// Choices where the issue is silent, as users would expect them:
// - a group without a guarantee guarantees what its members are guaranteed (their sum);
// - a group, or a container in a group, without a ceiling has its group's (the link's at the top);
// - a group's priority orders it among its siblings (the groups and containers beside it),
//   as a container's does; its members' priorities only order them inside it.

import type { Direction } from '../tc/model';
import { DIRECTIONS } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { formatRate } from '../units/format';
import type { LocatedDocument } from './documents';
import { MAX_GROUP_LEVELS } from './limits';
import type { ContainerPolicy, GroupDirectionPolicy, GroupPolicy, HostPolicy } from './model';
import type { GroupDocument } from './schema';
import { sourceOf, where, type IssueSink } from './sink';

export type GroupDoc = LocatedDocument & { readonly value: GroupDocument };

export interface GroupTree {
  /** Parents before their children, in document order otherwise. */
  readonly groups: readonly GroupPolicy[];
  readonly byName: ReadonlyMap<string, GroupPolicy>;
  /** The document of each group, for findings that cite it. */
  readonly docs: ReadonlyMap<string, GroupDoc>;
}

/** Each group with its parent checked and its ceilings defaulted; every problem reported. */
export function validateGroups(docs: readonly GroupDoc[], host: HostPolicy, sink: IssueSink): GroupTree {
  const docByName = new Map<string, GroupDoc>();
  for (const d of docs) if (!docByName.has(d.value.metadata.name)) docByName.set(d.value.metadata.name, d);
  const levels = new Map<string, number>();
  for (const d of docByName.values()) levels.set(d.value.metadata.name, levelOf(d, docByName, sink));
  const ordered = [...docByName.values()].sort((a, b) => levels.get(a.value.metadata.name)! - levels.get(b.value.metadata.name)!);
  const byName = new Map<string, GroupPolicy>();
  const groups: GroupPolicy[] = [];
  for (const d of ordered) {
    const name = d.value.metadata.name;
    const declared = d.value.spec.parent;
    // A parent that is unknown or on a cycle was reported; the group then hangs under the link.
    const parent = declared !== undefined && byName.has(declared) ? byName.get(declared) : undefined;
    const bandwidth = {} as Record<Direction, GroupDirectionPolicy>;
    for (const dir of DIRECTIONS) bandwidth[dir] = validateGroupDirection(d, dir, host, parent, sink);
    const group: GroupPolicy = { name, ...(parent ? { parent: parent.name } : {}), bandwidth, source: sourceOf(d) };
    byName.set(name, group);
    groups.push(group);
  }
  return { groups, byName, docs: docByName };
}

/** 1 under the link, 2 under a group of level 1, …; a cycle or an unknown parent is reported (and counts as 1). */
function levelOf(doc: GroupDoc, docs: ReadonlyMap<string, GroupDoc>, sink: IssueSink): number {
  const chain = [doc.value.metadata.name];
  for (let d = doc; d.value.spec.parent !== undefined; ) {
    const parent = d.value.spec.parent;
    const next = docs.get(parent);
    if (next === undefined) {
      if (d === doc) sink.add(doc, ['spec', 'parent'], `unknown group "${parent}"`, `known groups: ${[...docs.keys()].join(', ') || '(none)'}`);
      return d === doc ? 1 : chain.length;
    }
    if (chain.includes(parent)) {
      if (chain[0] === parent) sink.add(doc, ['spec', 'parent'], `group "${chain[0]}" is its own ancestor: ${[...chain, parent].join(' → ')}`, 'a group belongs to one parent, above it: remove a parent from the loop');
      return 1;
    }
    chain.push(parent);
    d = next;
  }
  if (chain.length > MAX_GROUP_LEVELS) {
    sink.add(doc, ['spec', 'parent'], `group "${chain[0]}" is ${chain.length} levels of groups deep (${[...chain].reverse().join(' → ')}); at most ${MAX_GROUP_LEVELS}`, 'attach it to a group nearer the top');
  }
  return chain.length;
}

function validateGroupDirection(doc: GroupDoc, dir: Direction, host: HostPolicy, parent: GroupPolicy | undefined, sink: IssueSink): GroupDirectionPolicy {
  const spec = doc.value.spec[dir];
  const path = ['spec', dir];
  const link = host.capacity[dir];
  const above = parent ? parent.bandwidth[dir].ceiling : link;
  const ceiling = spec.ceiling ?? above;
  if (spec.ceiling !== undefined && spec.ceiling <= 0) sink.add(doc, [...path, 'ceiling'], `${dir} ceiling must be above zero`);
  if (spec.ceiling !== undefined && spec.ceiling > link) {
    sink.add(doc, [...path, 'ceiling'], `${dir} ceiling ${formatRate(spec.ceiling)} is above the link's ${formatRate(link)}`, `lower it to at most ${formatRate(link)} or leave it out (defaults to ${parent ? "the parent group's" : 'the link'})`);
  } else if (parent && spec.ceiling !== undefined && spec.ceiling > above) {
    sink.add(doc, [...path, 'ceiling'], `${dir} ceiling ${formatRate(spec.ceiling)} is above its parent group "${parent.name}"'s ${formatRate(above)}`, `lower it to at most ${formatRate(above)} or leave it out (defaults to the parent group's)`);
  }
  if (spec.guarantee !== undefined && spec.guarantee > ceiling) sink.add(doc, [...path, 'guarantee'], `${dir} guarantee ${formatRate(spec.guarantee)} is above its ceiling ${formatRate(ceiling)}`, 'a guarantee cannot exceed the ceiling');
  return { ceiling, priority: spec.priority, ...(spec.guarantee !== undefined ? { guarantee: spec.guarantee } : {}), ...(spec.burst !== undefined ? { burst: spec.burst } : {}) };
}

/** The ceiling a container in `group` (or under the link) may have at most, and has by default. */
export const ceilingAbove = (tree: GroupTree, group: string | undefined, dir: Direction, link: BitsPerSec): BitsPerSec => {
  const g = group === undefined ? undefined : tree.byName.get(group);
  return g ? g.bandwidth[dir].ceiling : link;
};

/** A level of the tree: the link, or a group, and what hangs directly under it. */
export interface Level {
  /** undefined: the link. */
  readonly group: GroupPolicy | undefined;
  readonly childGroups: readonly GroupPolicy[];
  readonly containers: readonly ContainerPolicy[];
}

/** Every level: the link first, then each group, parents before children. */
export function levelsOf(groups: readonly GroupPolicy[], containers: readonly ContainerPolicy[]): Level[] {
  const known = new Set(groups.map((g) => g.name));
  const childGroups = new Map<string | undefined, GroupPolicy[]>();
  const members = new Map<string | undefined, ContainerPolicy[]>();
  const push = <T>(map: Map<string | undefined, T[]>, key: string | undefined, item: T): void => {
    const list = map.get(key);
    if (list) list.push(item);
    else map.set(key, [item]);
  };
  for (const g of groups) push(childGroups, g.parent, g);
  // A container naming an unknown group was reported; it counts under the link.
  for (const c of containers) push(members, c.group !== undefined && known.has(c.group) ? c.group : undefined, c);
  return [undefined, ...groups].map((g) => ({ group: g, childGroups: childGroups.get(g?.name) ?? [], containers: members.get(g?.name) ?? [] }));
}

/**
 * Each group's guarantee in `dir`: the one it states, or the sum of its children's
 * (groups' by the same rule). Groups come parents first, so children are summed bottom-up.
 */
export function groupGuarantees(groups: readonly GroupPolicy[], containers: readonly ContainerPolicy[], dir: Direction): Map<string, BitsPerSec> {
  const sums = new Map<string, number>();
  const add = (group: string | undefined, g: number): void => {
    if (group !== undefined && sums.has(group)) sums.set(group, sums.get(group)! + g);
  };
  for (const g of groups) sums.set(g.name, 0);
  for (const c of containers) add(c.group, c.bandwidth[dir].guarantee);
  const out = new Map<string, BitsPerSec>();
  for (let i = groups.length - 1; i >= 0; i--) {
    const g = groups[i]!;
    const own = g.bandwidth[dir].guarantee ?? bitsPerSec(sums.get(g.name)!);
    out.set(g.name, own);
    add(g.parent, own);
  }
  return out;
}

/** A level whose children are guaranteed more than it has: the link, or a group. */
export interface Overcommit {
  readonly group: GroupPolicy | undefined;
  readonly total: BitsPerSec;
  readonly available: BitsPerSec;
  /** "web 30mbit, api 20mbit, …" */
  readonly children: string;
}

/**
 * Levels whose children's guarantees add up to more than the level has: the link's
 * capacity, a group's stated guarantee, or (a group without one) its ceiling.
 */
export function overcommits(host: HostPolicy, groups: readonly GroupPolicy[], containers: readonly ContainerPolicy[], dir: Direction): Overcommit[] {
  const guarantees = groupGuarantees(groups, containers, dir);
  const out: Overcommit[] = [];
  for (const level of levelsOf(groups, containers)) {
    const shares = [...level.childGroups.map((g) => [g.name, guarantees.get(g.name)!] as const), ...level.containers.map((c) => [c.name, c.bandwidth[dir].guarantee] as const)];
    const total = shares.reduce((s, [, g]) => s + g, 0);
    const g = level.group;
    const available = g === undefined ? host.capacity[dir] : (g.bandwidth[dir].guarantee ?? g.bandwidth[dir].ceiling);
    if (total <= available) continue;
    out.push({ group: g, total: bitsPerSec(total), available, children: shares.map(([name, s]) => `${name} ${formatRate(s)}`).join(', ') });
  }
  return out;
}

/** The message for an overcommitted level; `during` names an open window. */
export function overcommitMessage(o: Overcommit, dir: Direction, during?: string): string {
  const over = formatRate(bitsPerSec(o.total - o.available));
  const when = during ? ` ${during}` : '';
  if (o.group === undefined) return `admission: ${dir} guarantees add up to ${formatRate(o.total)}${when}, ${over} more than the link's ${formatRate(o.available)} (${o.children})`;
  const what = o.group.bandwidth[dir].guarantee !== undefined ? `group "${o.group.name}"'s ${dir} guarantee` : `group "${o.group.name}"'s ${dir} ceiling (it states no guarantee)`;
  return `admission: the ${dir} guarantees of group "${o.group.name}"'s members add up to ${formatRate(o.total)}${when}, ${over} more than ${what} ${formatRate(o.available)} (${o.children})`;
}

export const OVERCOMMIT_HINT = 'lower some guarantees, raise the guarantee above them (the capacity, if the link is faster), or set overcommit: scale-by-priority';

/** The group documents' own findings once containers are known: where a group's members do not fit it. */
export function reportGroupOvercommits(host: HostPolicy, tree: GroupTree, containers: readonly ContainerPolicy[], sink: IssueSink, hostDoc: LocatedDocument): void {
  if (host.overcommit === 'scale-by-priority') return;
  for (const dir of DIRECTIONS) {
    for (const o of overcommits(host, tree.groups, containers, dir)) {
      const doc = o.group ? tree.docs.get(o.group.name)! : hostDoc;
      const path = o.group ? ['spec', dir, o.group.bandwidth[dir].guarantee !== undefined ? 'guarantee' : 'ceiling'] : ['spec', 'capacity', dir];
      sink.add(doc, path, overcommitMessage(o, dir), OVERCOMMIT_HINT);
    }
  }
}

/** Names shared by a group and a container: status, metrics and `inspect` name both alike. */
export function reportNameClashes(groupDocs: readonly GroupDoc[], containerDocs: readonly LocatedDocument[], sink: IssueSink): void {
  const containers = new Map(containerDocs.map((d) => [d.value.metadata.name, d]));
  for (const g of groupDocs) {
    const other = containers.get(g.value.metadata.name);
    if (other) sink.add(g, ['metadata', 'name'], `group "${g.value.metadata.name}" has the name of the container at ${where(other)}`, 'names are unique across containers and groups');
  }
}
