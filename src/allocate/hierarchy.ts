// The ideal allocation on a tree (DESIGN.md, "Structure: groups"): the four rules at
// every level. The link is the root; its children are groups and containers, a group's
// children are groups and containers again. Pure, and written from the rules alone: it
// reads what the user wrote (guarantees, ceilings, priorities) and demands, never the
// classes a compile makes of them.
//
// Recursive water-filling: each node wants min(ceiling, its demand) for a container,
// min(ceiling, Σ its children's wants) for a group, so what a group leaves idle is not
// claimed at its level and is lent outside it. A parent's allocation is split among its
// children by the flat oracle (guarantees first, then the rest by priority, in proportion
// to guarantees, never beyond a child's want), and each child's share is split among its
// own children the same way. With no groups this is the flat oracle itself.

import { bitsPerSec, type BitsPerSec } from '../units/units';
import { allocate, type Allocation } from './oracle';

export interface TreeAllocationInput {
  readonly id: string;
  /** The group it belongs to; undefined: a child of the link. */
  readonly parent?: string;
  readonly guarantee: BitsPerSec;
  /** The most the node may take; a group's caps what all its members take together. */
  readonly ceiling: BitsPerSec;
  /** 0 = highest … 7, among its siblings. */
  readonly priority: number;
  /** What a leaf (a container) would send; a node with children wants what they want. */
  readonly demand: BitsPerSec;
}

/** A tree the oracle cannot read: a parent that is not among the nodes, or a cycle. */
export class TreeShapeError extends RangeError {}

interface Shape {
  readonly roots: readonly TreeAllocationInput[];
  readonly children: ReadonlyMap<string, readonly TreeAllocationInput[]>;
}

/** Every node's share of `capacity`: containers and groups alike (a group's is its members' total). */
export function allocateTree(capacity: BitsPerSec, nodes: readonly TreeAllocationInput[]): Allocation {
  const shape = shapeOf(nodes);
  const wants = new Map<string, number>();
  for (const root of shape.roots) wantOf(root, shape, wants);
  const out = new Map<string, BitsPerSec>();
  split(Math.max(0, capacity), shape.roots, shape, wants, out);
  return out;
}

function shapeOf(nodes: readonly TreeAllocationInput[]): Shape {
  const ids = new Set(nodes.map((n) => n.id));
  const roots: TreeAllocationInput[] = [];
  const children = new Map<string, TreeAllocationInput[]>();
  for (const n of nodes) {
    if (n.parent === undefined) {
      roots.push(n);
      continue;
    }
    if (!ids.has(n.parent)) throw new TreeShapeError(`node "${n.id}" names parent "${n.parent}", which is not in the tree`);
    const list = children.get(n.parent);
    if (list) list.push(n);
    else children.set(n.parent, [n]);
  }
  // A node reachable from no root sits on a cycle (or hangs below one).
  let reached = 0;
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    reached++;
    for (const c of children.get(n.id) ?? []) stack.push(c);
  }
  if (reached !== nodes.length) throw new TreeShapeError(`${nodes.length - reached} node(s) are on a cycle of parents`);
  return { roots, children };
}

function wantOf(node: TreeAllocationInput, shape: Shape, wants: Map<string, number>): number {
  const kids = shape.children.get(node.id);
  const own = kids === undefined ? Math.max(0, node.demand) : kids.reduce((sum, c) => sum + wantOf(c, shape, wants), 0);
  const want = Math.min(node.ceiling, own);
  wants.set(node.id, want);
  return want;
}

/** Splits `amount` among `siblings` by the flat rules, then each one's share among its children. */
function split(amount: number, siblings: readonly TreeAllocationInput[], shape: Shape, wants: ReadonlyMap<string, number>, out: Map<string, BitsPerSec>): void {
  const shares = allocate(
    bitsPerSec(amount),
    siblings.map((s) => ({ id: s.id, guarantee: s.guarantee, ceiling: s.ceiling, priority: s.priority, demand: bitsPerSec(wants.get(s.id)!) })),
  );
  for (const s of siblings) {
    const share = shares.get(s.id)!;
    out.set(s.id, share);
    const kids = shape.children.get(s.id);
    if (kids !== undefined) split(share, kids, shape, wants, out);
  }
}
