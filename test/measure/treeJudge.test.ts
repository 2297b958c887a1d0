import { describe, expect, it } from 'vitest';
import { allocateTree } from '../../src/allocate/hierarchy';
import { allocate } from '../../src/allocate/oracle';
import { writtenJudge } from '../../src/measure/judge';
import { writtenTreeJudge, type TreeOracleInput, type WrittenTree } from '../../src/measure/treeJudge';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';

const M = (n: number): BitsPerSec => bitsPerSec(n * 1e6);
const both = <T>(d: T): { download: T; upload: T } => ({ download: d, upload: d });

/** top (no guarantee, ceiling 80) ⊃ sub (no guarantee, no ceiling) ⊃ s1; top ⊃ t1; loose beside. */
const TREE: WrittenTree = {
  capacity: { download: M(100), upload: M(50) },
  groups: [
    { name: 'top', ...both({ ceiling: M(40), priority: 1 }), download: { ceiling: M(80), priority: 1 } },
    { name: 'sub', parent: 'top', ...both({}) },
  ],
  containers: [
    { name: 's1', group: 'sub', ...both({ guarantee: M(10) }) },
    { name: 't1', group: 'top', ...both({ guarantee: M(5), ceiling: M(20), priority: 0 }) },
    { name: 'loose', ...both({ guarantee: M(30) }) },
  ],
};

/** The allocator's nodes, as the judge hands them over. */
function nodesOf(tree: WrittenTree, direction: 'download' | 'upload', active: readonly string[]): readonly TreeOracleInput[] {
  let seen: readonly TreeOracleInput[] = [];
  writtenTreeJudge(tree, (_, nodes) => {
    seen = nodes;
    return new Map();
  }).expect(direction, active);
  return seen;
}

describe('writtenTreeJudge: the tree as written, its defaults stated by the judge', () => {
  it('a group without a guarantee guarantees its children\'s sum (subgroups by the same rule); a ceiling left out is the parent\'s; priority 4', () => {
    const byId = new Map(nodesOf(TREE, 'download', ['s1']).map((n) => [n.id, n]));
    expect(byId.get('sub')).toEqual({ id: 'sub', parent: 'top', guarantee: M(10), ceiling: M(80), priority: 4, demand: 0 });
    expect(byId.get('top')).toEqual({ id: 'top', guarantee: M(15), ceiling: M(80), priority: 1, demand: 0 });
    expect(byId.get('s1')).toEqual({ id: 's1', parent: 'sub', guarantee: M(10), ceiling: M(80), priority: 4, demand: M(200) });
    expect(byId.get('t1')).toEqual({ id: 't1', parent: 'top', guarantee: M(5), ceiling: M(20), priority: 0, demand: 0 });
    expect(byId.get('loose')).toEqual({ id: 'loose', guarantee: M(30), ceiling: M(100), priority: 4, demand: 0 });
    // Each direction its own: upload's link is 50, top's ceiling 40.
    expect(nodesOf(TREE, 'upload', ['s1']).find((n) => n.id === 's1')).toMatchObject({ ceiling: M(40), demand: M(100) });
  });

  it('judges the containers (the leaves), with their ceilings as in force; the ideal is the allocator\'s', () => {
    const e = writtenTreeJudge(TREE, allocateTree).expect('download', ['s1', 'loose']);
    expect(e.capacity).toBe(M(100));
    expect(e.containers.map((c) => [c.id, c.ceiling / 1e6])).toEqual([['s1', 80], ['t1', 20], ['loose', 100]]);
    // loose keeps its guarantee; top (p1) borrows all the rest before loose (p4), for its one busy member.
    expect(Object.fromEntries([...e.ideal].map(([k, v]) => [k, v / 1e6]))).toEqual({ top: 70, sub: 70, s1: 70, t1: 0, loose: 30 });
  });

  it('with no groups it is writtenJudge with the flat oracle', () => {
    const flat = { capacity: TREE.capacity, containers: TREE.containers.map(({ group: _, ...c }) => c) };
    for (const active of [['s1'], ['s1', 't1'], ['t1', 'loose'], ['s1', 't1', 'loose']]) {
      expect(writtenTreeJudge({ ...flat, groups: [] }, allocateTree).expect('download', active)).toEqual(writtenJudge(flat, allocate).expect('download', active));
    }
  });

  it('refuses a tree the author wrote wrong rather than guess: an unknown group, a cycle', () => {
    const unknown: WrittenTree = { ...TREE, containers: [{ name: 'x', group: 'nope', ...both({ guarantee: M(1) }) }] };
    expect(() => writtenTreeJudge(unknown, allocateTree).expect('download', [])).toThrow(/group "nope" it does not write/);
    const cycle: WrittenTree = { ...TREE, groups: [{ name: 'a', parent: 'b', ...both({}) }, { name: 'b', parent: 'a', ...both({}) }], containers: [{ name: 'x', group: 'a', ...both({ guarantee: M(1) }) }] };
    expect(() => writtenTreeJudge(cycle, allocateTree).expect('download', [])).toThrow(/its own ancestor/);
  });
});
