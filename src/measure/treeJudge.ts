// writtenJudge's counterpart for policies with groups: the tree as its author wrote it
// (groups with their parents, containers with their group) and a hierarchical allocator.
// The defaults a group leaves out are stated here, as README and policies/schema.json
// document them, not taken from the shaping tree that renders the groups: the judge takes
// nothing from the code it judges. Pure.
import type { Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { WRITTEN_DEFAULT_PRIORITY, type Judge, type WrittenContainer, type WrittenPolicy } from './judge';
import type { OracleInput } from './verdict';

/** One direction of a group as written; every field may be left out. */
export interface WrittenGroupDirection {
  /** Default: the sum of its children's guarantees (groups' by the same rule). */
  readonly guarantee?: BitsPerSec;
  /** Default: its parent group's ceiling, or the link. */
  readonly ceiling?: BitsPerSec;
  /** Default: WRITTEN_DEFAULT_PRIORITY. */
  readonly priority?: number;
}

export interface WrittenGroup {
  readonly name: string;
  /** Undefined: directly under the link. */
  readonly parent?: string;
  readonly download: WrittenGroupDirection;
  readonly upload: WrittenGroupDirection;
}

export interface WrittenTreeContainer extends WrittenContainer {
  /** Undefined: directly under the link. A container's ceiling left out is its group's. */
  readonly group?: string;
}

/** A policy with groups as its author wrote it; with no groups it is a flat WrittenPolicy. */
export interface WrittenTree extends WrittenPolicy {
  readonly groups: readonly WrittenGroup[];
  readonly containers: readonly WrittenTreeContainer[];
}

/** Structurally the hierarchical oracle's TreeAllocationInput (src/allocate/hierarchy.ts). */
export interface TreeOracleInput extends OracleInput {
  /** The group it belongs to; undefined: a child of the link. */
  readonly parent?: string;
}

/** The hierarchical oracle's signature: allocateTree(capacity, nodes), groups and containers alike. */
export type TreeAllocator = (capacity: BitsPerSec, nodes: readonly TreeOracleInput[]) => ReadonlyMap<string, BitsPerSec>;

/**
 * What each container should get in `direction` while exactly `active` send, from the
 * tree as written: a busy container demands twice the link, an idle one nothing; a group
 * demands what its members do (the allocator works that out). The containers judged are
 * the tree's leaves, each with its ceiling as in force (its own, else its group's).
 */
export function writtenTreeJudge(written: WrittenTree, allocator: TreeAllocator): Judge {
  return {
    expect(direction, active) {
      const capacity = written.capacity[direction];
      const nodes = writtenTreeNodes(written, direction, active);
      const groups = new Set(written.groups.map((g) => g.name));
      const containers = nodes.filter((n) => !groups.has(n.id)).map(({ id, guarantee, ceiling, priority, demand }): OracleInput => ({ id, guarantee, ceiling, priority, demand }));
      return { capacity, containers, ideal: allocator(capacity, nodes) };
    },
  };
}

/** The allocator's nodes: every group and container of `written`, their defaults filled in as documented. */
export function writtenTreeNodes(written: WrittenTree, direction: Direction, active: readonly string[]): TreeOracleInput[] {
  const capacity = written.capacity[direction];
  const byName = new Map(written.groups.map((g) => [g.name, g]));
  const groupNamed = (name: string): WrittenGroup => {
    const g = byName.get(name);
    if (!g) throw new Error(`the written tree names a group "${name}" it does not write (known: ${[...byName.keys()].join(', ') || 'none'})`);
    return g;
  };
  // A chain of parents longer than the groups there are is a cycle the author wrote.
  const ceilingOf = (group: string | undefined, depth = 0): BitsPerSec => {
    if (group === undefined) return capacity;
    if (depth > written.groups.length) throw new Error(`the written tree's group "${group}" is its own ancestor`);
    const g = groupNamed(group);
    return g[direction].ceiling ?? ceilingOf(g.parent, depth + 1);
  };
  const guaranteeOf = (group: string, depth = 0): BitsPerSec => {
    if (depth > written.groups.length) throw new Error(`the written tree's group "${group}" is its own ancestor`);
    const stated = groupNamed(group)[direction].guarantee;
    if (stated !== undefined) return stated;
    const members = written.containers.filter((c) => c.group === group).reduce((s, c) => s + c[direction].guarantee, 0);
    const subgroups = written.groups.filter((g) => g.parent === group).reduce((s, g) => s + guaranteeOf(g.name, depth + 1), 0);
    return bitsPerSec(members + subgroups);
  };
  const parentOf = (parent: string | undefined): { parent?: string } => (parent === undefined ? {} : { parent: groupNamed(parent).name });
  return [
    ...written.groups.map((g) => ({ id: g.name, ...parentOf(g.parent), guarantee: guaranteeOf(g.name), ceiling: ceilingOf(g.name), priority: g[direction].priority ?? WRITTEN_DEFAULT_PRIORITY, demand: bitsPerSec(0) })),
    ...written.containers.map((c) => {
      const d = c[direction];
      return { id: c.name, ...parentOf(c.group), guarantee: d.guarantee, ceiling: d.ceiling ?? ceilingOf(c.group), priority: d.priority ?? WRITTEN_DEFAULT_PRIORITY, demand: active.includes(c.name) ? bitsPerSec(capacity * 2) : bitsPerSec(0) };
    }),
  ];
}
