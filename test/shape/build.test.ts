import { describe, expect, it } from 'vitest';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { shapeTree } from '../../src/shape/build';
import type { AssignedBefore } from '../../src/shape/model';
import { MINIMAL_HOST } from '../support/policy';

const group = (name: string, body = '  {}\n'): string => `---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: ${name} }
spec:
${body}`;
let nextIp = 10;
const member = (name: string, g: string | undefined, rate: string, priority = 4): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { ip: 198.18.0.${nextIp++} }
${g ? `  group: ${g}\n` : ''}  download: { guarantee: ${rate}, priority: ${priority} }
  upload: { guarantee: ${rate}, priority: ${priority} }
`;

function policyOf(host: string, ...docs: string[]): Policy {
  const r = parsePolicyTexts([{ path: 'p.yaml', text: host + docs.join('') }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

const nothingBefore: AssignedBefore = { devNames: new Map(), addresses: new Map(), slots: new Map(), addressSlots: new Map(), addressPaths: new Map() };
const g = (p: Policy) => shapeTree(p, nothingBefore, []);

describe('shapeTree: groups', () => {
  it("a group without a guarantee guarantees its members' sum in force (a waiting workload's left out)", () => {
    const p = policyOf(MINIMAL_HOST, group('t', '  download: { ceiling: 50mbit }\n'), member('a', 't', '10mbit'), member('bb', 't', '5mbit'));
    const tree = g(p);
    expect(tree.groups.map((n) => [n.id, n.download.guarantee, n.download.ceiling])).toEqual([['t', 15e6, 50e6]]);
    // bb's workload not running (resolution left it out): t guarantees a's alone.
    const without = g({ ...p, containers: p.containers.filter((c) => c.name === 'a') });
    expect(without.groups[0]!.download.guarantee).toBe(10e6);
    expect(without.containers[0]!.parent).toBe(without.groups[0]);
  });

  it('renders no group without a container in force below it; a parent of one that has is rendered', () => {
    const p = policyOf(MINIMAL_HOST, group('top'), group('sub', '  parent: top\n'), group('empty'), member('a', 'sub', '10mbit'));
    expect(g(p).groups.map((n) => [n.id, n.level, n.parent?.id])).toEqual([['top', 1, undefined], ['sub', 2, 'top']]);
  });

  it('overcommit: scale-by-priority scales a group\'s members into its guarantee, highest priority first', () => {
    const host = MINIMAL_HOST.replace('capacity:', 'overcommit: scale-by-priority\n  capacity:');
    const notes: string[] = [];
    const tree = shapeTree(policyOf(host, group('t', '  download: { guarantee: 15mbit }\n  upload: { guarantee: 15mbit }\n'), member('a', 't', '10mbit', 1), member('bb', 't', '10mbit', 2)), nothingBefore, notes);
    expect(tree.containers.map((c) => [c.policy.name, c.downloadGuarantee])).toEqual([['a', 10e6], ['bb', 5e6]]);
    expect(notes.some((n) => n.includes('under group "t"'))).toBe(true);
  });

  it('gives every node a distinct slot, groups below 0x8000', () => {
    const tree = g(policyOf(MINIMAL_HOST, ...Array.from({ length: 20 }, (_, i) => group(`g${i}`)), ...Array.from({ length: 20 }, (_, i) => member(`c${i}`, `g${i}`, '1mbit'))));
    const slots = [...tree.groups.map((n) => n.slot), ...tree.containers.map((c) => c.slot)];
    expect(new Set(slots).size).toBe(slots.length);
    for (const n of tree.groups) expect(n.slot).toBeLessThan(0x8000);
  });
});
