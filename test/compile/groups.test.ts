import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompiledPolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { formatHandle, majorOf, minorOf, type TcHandle } from '../../src/tc/handle';
import { emptyKernelState, type KernelState } from '../../src/tc/model';
import { describeObject } from '../../src/tc/describe';

const HOST = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: g }
spec:
  netns: sl-g-host
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
`;
const group = (name: string, body: string): string => `---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: ${name} }
spec:
${body}`;
const container = (name: string, ip: number, g: string | undefined, rate: string, priority = 4): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { managed: sl-g-${name} }
  address: 198.18.0.${ip}
${g ? `  group: ${g}\n` : ''}  download: { guarantee: ${rate}, priority: ${priority} }
  upload: { guarantee: ${rate}, priority: ${priority} }
`;

function policyOf(...docs: string[]): Policy {
  const r = parsePolicyTexts([{ path: 'g.yaml', text: HOST + docs.join('') }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

// shop (g40, c70, p2) ⊃ front (no guarantee: its members' 20) ⊃ web, api; shop ⊃ db; lab (g20) ⊃ nb; tool under the link.
const TENANTS = [
  group('shop', '  download: { guarantee: 40mbit, ceiling: 70mbit, priority: 2 }\n  upload: { guarantee: 40mbit }\n'),
  group('front', '  parent: shop\n  download: { priority: 1 }\n'),
  group('lab', '  download: { guarantee: 20mbit }\n  upload: { guarantee: 20mbit }\n'),
  container('web', 10, 'front', '10mbit', 0),
  container('api', 11, 'front', '10mbit'),
  container('db', 12, 'shop', '15mbit'),
  container('nb', 13, 'lab', '5mbit'),
  container('tool', 14, undefined, '5mbit'),
];

const on = (s: KernelState, dev: string) => ({ classes: s.classes.filter((c) => c.dev === dev), qdiscs: s.qdiscs.filter((q) => q.dev === dev), filters: s.filters.filter((f) => f.dev === dev) });
const classOf = (c: CompiledPolicy, name: string): TcHandle => (c.containers.find((x) => x.name === name) ?? c.groups.find((x) => x.name === name))!.classes.download!.classid;

describe('compile: groups as nested HTBs', () => {
  const compiled = compilePolicy(policyOf(...TENANTS));
  const bridge = on(compiled.state, 'sl-br0');

  it('gives each group a leaf class of its parent HTB whose leaf qdisc is an HTB holding its members', () => {
    const shop = classOf(compiled, 'shop');
    const front = classOf(compiled, 'front');
    expect(majorOf(shop)).toBe(1);
    expect(bridge.classes.find((c) => c.classid === shop)!.spec).toMatchObject({ rate: 40e6, ceil: 70e6, prio: 2 });
    // front states no guarantee: its members' sum; its ceiling is shop's.
    expect(bridge.classes.find((c) => c.classid === front)!.spec).toMatchObject({ rate: 20e6, ceil: 70e6, prio: 1 });
    expect(majorOf(front)).toBe(minorOf(shop));
    const shopHtb = bridge.qdiscs.find((q) => q.parent === shop)!;
    expect(shopHtb).toMatchObject({ handle: (minorOf(shop) << 16) >>> 0, spec: { kind: 'htb' } });
    expect(majorOf(classOf(compiled, 'web'))).toBe(minorOf(front));
    expect(majorOf(classOf(compiled, 'db'))).toBe(minorOf(shop));
    expect(majorOf(classOf(compiled, 'tool'))).toBe(1);
    // Each group HTB's root class is at the link: the group's own class enforces its ceiling.
    const nestedRoot = bridge.classes.find((c) => c.classid === ((minorOf(shop) << 16) | 1) >>> 0)!;
    expect(nestedRoot).toMatchObject({ parent: shopHtb.handle, spec: { rate: 100e6, ceil: 100e6 } });
    expect(bridge.classes).toHaveLength(2 + 3 + 5 + 3);
    expect(compiled.groups.map((g) => [g.name, g.parent, g.level, g.members])).toEqual([
      ['shop', undefined, 1, ['front', 'db']],
      ['lab', undefined, 1, ['nb']],
      ['front', 'shop', 2, ['web', 'api']],
    ]);
  });

  it('scales quanta among siblings: groups against groups and containers under the link, members within their group', () => {
    const q = (h: TcHandle) => bridge.classes.find((c) => c.classid === h)!.spec.quantum;
    expect(q(classOf(compiled, 'shop')) / q(classOf(compiled, 'tool'))).toBeCloseTo(8, 3);
    expect(q(classOf(compiled, 'lab')) / q(classOf(compiled, 'tool'))).toBeCloseTo(4, 3);
    expect(q(classOf(compiled, 'db')) / q(classOf(compiled, 'front'))).toBeCloseTo(0.75, 3);
    expect(q(classOf(compiled, 'web'))).toBe(q(classOf(compiled, 'api')));
  });

  it("classifies in every HTB: the root's filters lead to the top group, each group's to its child on the way", () => {
    const leadsTo = (qdiscMajor: number, ip: number): TcHandle | undefined =>
      bridge.filters.find((f) => majorOf(f.parent) === qdiscMajor && f.spec.kind === 'u32' && f.spec.keys.length === 1 && f.spec.keys[0]!.value === ((0xc6120000 | ip) >>> 0))?.spec.kind === 'u32'
        ? (bridge.filters.find((f) => majorOf(f.parent) === qdiscMajor && f.spec.kind === 'u32' && f.spec.keys.length === 1 && f.spec.keys[0]!.value === ((0xc6120000 | ip) >>> 0))!.spec as { classid: TcHandle }).classid
        : undefined;
    const shop = classOf(compiled, 'shop');
    const front = classOf(compiled, 'front');
    expect(leadsTo(1, 10)).toBe(shop);
    expect(leadsTo(minorOf(shop), 10)).toBe(front);
    expect(leadsTo(minorOf(front), 10)).toBe(classOf(compiled, 'web'));
    expect(leadsTo(minorOf(classOf(compiled, 'web')), 10)).toBeUndefined();
    expect(leadsTo(1, 14)).toBe(classOf(compiled, 'tool'));
    expect(leadsTo(minorOf(shop), 14)).toBeUndefined();
  });

  it('keeps every slot read back from the kernel; moving a container between groups replaces its class alone', () => {
    const again = compilePolicy(policyOf(...TENANTS), { observed: compiled.state });
    expect(again.state).toEqual(compiled.state);
    expect(diff(again.state, compiled.state)).toEqual([]);
    const moved = compilePolicy(policyOf(...TENANTS.map((d) => d.replace('group: lab', 'group: shop'))), { observed: compiled.state });
    const plan = diff(moved.state, compiled.state).map((op) => `${op.op} ${describeObject(op.object, false)}`);
    const nb = minorOf(classOf(compiled, 'nb'));
    expect(minorOf(classOf(moved, 'nb'))).toBe(nb);
    // nb leaves lab (lab, now empty, goes) and joins shop: its class and leaf anew, shop's and the root's filters for it.
    const touched = plan.filter((l) => l.includes(`${nb.toString(16)}:`) || l.includes(`:${nb.toString(16)} `) || l.includes(formatHandle(classOf(compiled, 'lab'))));
    expect(touched.length).toBeGreaterThan(0);
    // The others keep their classes, counters and all (a sibling joining may change a quantum: a change in place).
    for (const other of ['web', 'api', 'db', 'tool', 'shop', 'front']) {
      expect(plan.filter((l) => !l.startsWith('change') && l.includes(`class htb ${formatHandle(classOf(compiled, other))} `))).toEqual([]);
    }
  });

  it("does not take a group's slot for a container's when the group's filters are missing from what was read", () => {
    const groupHtbs = new Set(compiled.groups.map((g) => g.qdisc >>> 0));
    const withoutGroupFilters = { ...compiled.state, filters: compiled.state.filters.filter((f) => !groupHtbs.has(f.parent >>> 0)) };
    expect(compilePolicy(policyOf(...TENANTS), { observed: withoutGroupFilters }).state).toEqual(compiled.state);
  });

  it('renders a policy without groups exactly as before (no nested HTB)', () => {
    const flat = compilePolicy(policyOf(...TENANTS.filter((d) => !d.includes('kind: Group')).map((d) => d.replace(/  group: \w+\n/, ''))));
    expect(flat.groups).toEqual([]);
    expect(flat.state.qdiscs.filter((q) => q.spec.kind === 'htb' && q.parent !== 0xffffffff)).toEqual([]);
    expect(diff(flat.state, emptyKernelState()).length).toBeGreaterThan(0);
  });
});

describe('compile: the shared trees’ lists, made at their counted size', () => {
  const dual = (name: string, match: string, g?: string): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: ${match}
${g ? `  group: ${g}\n` : ''}  download: { guarantee: 5mbit }
  upload: { guarantee: 5mbit }
`;
  const docs = [...TENANTS, dual('v6', '{ ip: "2001:2:0:0::99" }', 'lab'), dual('agent', '{ cgroup: sl-agent }')];

  it('holds every object once, without holes, grouped or flat, dual-stack, with cgroup members', () => {
    const grouped = parsePolicyTexts([{ path: 'g.yaml', text: HOST.replace('  subnet:', '  subnet6: "2001:2::/64"\n  subnet:') + docs.join('') }]);
    if (!grouped.ok) throw new Error(JSON.stringify(grouped.issues));
    const flat = parsePolicyTexts([{ path: 'f.yaml', text: HOST.replace('  subnet:', '  subnet6: "2001:2::/64"\n  subnet:') + docs.filter((d) => !d.includes('kind: Group')).join('').replace(/\n {2}group: \w+/g, '') }]);
    if (!flat.ok) throw new Error(JSON.stringify(flat.issues));
    for (const policy of [grouped.policy, flat.policy]) {
      const { qdiscs, classes, filters } = compilePolicy(policy).state;
      const lists: readonly (readonly unknown[])[] = [qdiscs, classes, filters];
      for (const list of lists) expect(Object.keys(list).length).toBe(list.length);
      expect(filters.some((f) => f.spec.kind === 'u32' && f.spec.keys.length === 4)).toBe(true);
    }
  });
});
