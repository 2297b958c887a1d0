import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate } from '../../src/allocate/oracle';
import { allocateTree, TreeShapeError, type TreeAllocationInput } from '../../src/allocate/hierarchy';
import { bitsPerSec } from '../../src/units/units';

const mbit = (n: number) => bitsPerSec(n * 1e6);
const C = mbit(100);
const node = (id: string, parent: string | undefined, g: number, p: number, d: number, c = 100): TreeAllocationInput => ({
  id,
  ...(parent !== undefined ? { parent } : {}),
  guarantee: mbit(g),
  ceiling: mbit(c),
  priority: p,
  demand: mbit(d),
});
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1000);

describe('allocateTree: the four rules at every level', () => {
  // Group A (g40) and B (g20) at one priority; A's members a1..a3 (g10 each), B's b1, b2 (g10).
  const groups = [node('A', undefined, 40, 4, 0), node('B', undefined, 20, 4, 0)];

  it('groups split the excess in proportion to group guarantees, whatever number of members send', () => {
    const a = allocateTree(C, [...groups, node('a1', 'A', 10, 4, 1000), node('a2', 'A', 10, 4, 0), node('a3', 'A', 10, 4, 0), node('b1', 'B', 10, 4, 1000), node('b2', 'B', 10, 4, 0)]);
    near(a.get('A')!, mbit(66.6667));
    near(a.get('B')!, mbit(33.3333));
    near(a.get('a1')!, mbit(66.6667));
    near(a.get('b1')!, mbit(33.3333));
  });

  it('a group priority orders borrowing among groups, not its members priorities', () => {
    const a = allocateTree(C, [node('A', undefined, 40, 2, 0, 70), node('B', undefined, 20, 4, 0), node('a1', 'A', 10, 6, 1000), node('b1', 'B', 10, 0, 1000)]);
    near(a.get('A')!, mbit(70));
    near(a.get('B')!, mbit(30));
  });

  it('inside a group, members split what the group gets by priority, then in proportion to guarantees', () => {
    const a = allocateTree(C, [node('A', undefined, 40, 2, 0, 70), node('B', undefined, 20, 4, 0), node('a1', 'A', 10, 4, 1000), node('a2', 'A', 10, 6, 1000), node('a3', 'A', 20, 4, 1000), node('b1', 'B', 10, 0, 1000)]);
    near(a.get('A')!, mbit(70));
    near(a.get('a2')!, mbit(10));
    near(a.get('a1')!, mbit(10 + 30 / 3));
    near(a.get('a3')!, mbit(20 + (2 * 30) / 3));
  });

  it('a busy group gets its guarantee, and what it leaves idle is lent outside it', () => {
    const a = allocateTree(C, [...groups, node('a1', 'A', 10, 4, 5), node('b1', 'B', 10, 4, 1000), node('x', undefined, 10, 4, 1000)]);
    near(a.get('A')!, mbit(5));
    near(a.get('b1')!, mbit(20 + (65 * 20) / 30));
    near(a.get('x')!, mbit(10 + (65 * 10) / 30));
  });

  it('nothing members borrow takes a group past its ceiling, at any depth', () => {
    const a = allocateTree(C, [node('A', undefined, 40, 4, 0, 50), node('S', 'A', 30, 4, 0, 35), node('s1', 'S', 10, 0, 1000), node('s2', 'S', 10, 0, 1000), node('a1', 'A', 10, 4, 1000), node('b', undefined, 10, 4, 1000)]);
    near(a.get('S')!, mbit(35));
    near(a.get('A')!, mbit(50));
    near(a.get('a1')!, mbit(15));
    near(a.get('b')!, mbit(50));
  });

  it('names what it cannot read: an unknown parent, a cycle', () => {
    expect(() => allocateTree(C, [node('a', 'nope', 1, 4, 1)])).toThrow(TreeShapeError);
    expect(() => allocateTree(C, [node('a', 'b', 1, 4, 1), node('b', 'a', 1, 4, 1)])).toThrow(/cycle/);
  });
});

/**
 * Random trees of depth 1–3 within the rules validation enforces: a group's children's
 * guarantees fit its guarantee, no child's ceiling above its group's.
 */
const trees = fc
  .record({
    seed: fc.array(fc.record({ g: fc.integer({ min: 0, max: 100 }), c: fc.integer({ min: 0, max: 100 }), p: fc.integer({ min: 0, max: 7 }), d: fc.integer({ min: 0, max: 150 }), kids: fc.integer({ min: 0, max: 3 }) }), { minLength: 20, maxLength: 20 }),
    top: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ seed, top }) => {
    const out: TreeAllocationInput[] = [];
    let next = 0;
    const take = () => seed[next++ % seed.length]!;
    const grow = (parent: string | undefined, budget: number, ceiling: number, depth: number, count: number): void => {
      for (let i = 0; i < count; i++) {
        const r = take();
        const g = Math.floor((budget * r.g) / 100 / count);
        const c = Math.max(g, Math.min(ceiling, g + r.c));
        const id = `${parent ?? 'n'}.${i}`;
        const kids = depth < 3 ? r.kids : 0;
        out.push(node(id, parent, g, r.p, kids > 0 ? 0 : r.d, c));
        if (kids > 0) grow(id, g, c, depth + 1, kids);
      }
    };
    grow(undefined, 100, 100, 1, top);
    return out;
  });

const flat = fc.array(fc.record({ g: fc.integer({ min: 0, max: 25 }), c: fc.integer({ min: 0, max: 100 }), p: fc.integer({ min: 0, max: 7 }), d: fc.integer({ min: 0, max: 150 }) }), { minLength: 1, maxLength: 8 });

const childrenOf = (nodes: readonly TreeAllocationInput[], id: string | undefined) => nodes.filter((n) => n.parent === id);
const isLeaf = (nodes: readonly TreeAllocationInput[], n: TreeAllocationInput) => childrenOf(nodes, n.id).length === 0;
/** What a node could use at most: min(ceiling, demand) of a leaf, min(ceiling, Σ children's) of a group. */
const wantOf = (nodes: readonly TreeAllocationInput[], n: TreeAllocationInput): number =>
  Math.min(n.ceiling, isLeaf(nodes, n) ? n.demand : childrenOf(nodes, n.id).reduce((s, c) => s + wantOf(nodes, c), 0));

describe('allocateTree: properties', () => {
  it('reduces to the flat oracle for a policy without groups', () => {
    fc.assert(fc.property(flat, (rows) => {
      const nodes = rows.map((r, i) => node(`c${i}`, undefined, r.g, r.p, r.d, Math.max(r.g, r.c)));
      const tree = allocateTree(C, nodes);
      const flatShares = allocate(C, nodes);
      for (const n of nodes) expect(tree.get(n.id)).toBe(flatShares.get(n.id));
    }));
  });

  it('never exceeds the link, a group ceiling, or a group its members total', () => {
    fc.assert(fc.property(trees, (nodes) => {
      const a = allocateTree(C, nodes);
      const top = childrenOf(nodes, undefined).reduce((s, n) => s + a.get(n.id)!, 0);
      expect(top).toBeLessThanOrEqual(C + 1e-3);
      for (const n of nodes) {
        expect(a.get(n.id)!).toBeLessThanOrEqual(n.ceiling + 1e-3);
        const kids = childrenOf(nodes, n.id);
        if (kids.length > 0) expect(Math.abs(kids.reduce((s, k) => s + a.get(k.id)!, 0) - a.get(n.id)!)).toBeLessThan(1e-3);
      }
    }));
  });

  it('a busy node (group or container) gets at least min(what it wants, its guarantee)', () => {
    fc.assert(fc.property(trees, (nodes) => {
      const a = allocateTree(C, nodes);
      for (const n of nodes) expect(a.get(n.id)!).toBeGreaterThanOrEqual(Math.min(wantOf(nodes, n), n.guarantee) - 1e-3);
    }));
  });

  it('is work-conserving at the link: Σ top level = min(C, Σ their wants)', () => {
    fc.assert(fc.property(trees, (nodes) => {
      const a = allocateTree(C, nodes);
      const tops = childrenOf(nodes, undefined);
      const total = tops.reduce((s, n) => s + a.get(n.id)!, 0);
      expect(Math.abs(total - Math.min(C, tops.reduce((s, n) => s + wantOf(nodes, n), 0)))).toBeLessThan(1e-3);
    }));
  });

  it('is monotone in demand: a container that wants more never gets less', () => {
    fc.assert(fc.property(trees, fc.nat(), fc.integer({ min: 1, max: 100 }), (nodes, pick, more) => {
      const leaves = nodes.filter((n) => isLeaf(nodes, n));
      const leaf = leaves[pick % leaves.length]!;
      const before = allocateTree(C, nodes).get(leaf.id)!;
      const after = allocateTree(C, nodes.map((n) => (n === leaf ? { ...n, demand: mbit(leaf.demand / 1e6 + more) } : n))).get(leaf.id)!;
      expect(after).toBeGreaterThanOrEqual(before - 1e-3);
    }));
  });
});
