import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { classRank, createRank, filterRank, linkRank, QdiscNesting, qdiscRank } from '../../src/plan/order';
import { diff } from '../../src/plan/diff';
import type { Plan } from '../../src/tc/operation';
import { makeHandle, majorOf, minorOf, TC_H_ROOT, type TcHandle } from '../../src/tc/handle';
import { emptyKernelState, flatten, type KernelObject, type KernelState } from '../../src/tc/model';
import { demoPolicy } from '../support/policy';

describe('create ranks', () => {
  const objects = flatten(compilePolicy(demoPolicy()).state);

  it('the per-type rank helpers agree with createRank', () => {
    for (const o of objects) {
      const own = o.type === 'link' ? linkRank(o) : o.type === 'qdisc' ? qdiscRank(o) : o.type === 'class' ? classRank(o) : o.type === 'filter' ? filterRank(o) : undefined;
      if (own !== undefined) expect(own).toBe(createRank(o));
    }
  });

  it('gives each rank to one object type (the planner decides placement per rank)', () => {
    const cgroup: KernelObject = { type: 'cgroup-classid', cgroup: 'sl-x', classid: 0x10010 as never };
    const sysctl: KernelObject = { type: 'sysctl', netns: 'sl-x', key: 'net.ipv4.ip_forward', value: '1' };
    const typeOfRank = new Map<number, string>();
    for (const o of [...objects, cgroup, sysctl]) {
      const rank = createRank(o);
      expect(typeOfRank.get(rank) ?? o.type).toBe(o.type);
      typeOfRank.set(rank, o.type);
    }
  });
});

describe('create ranks of nested HTB trees (a group: an HTB as a class leaf qdisc)', () => {
  const at = { netns: 'sl-x', dev: 'sl-br0' } as const;
  const h = (major: number, minor: number) => makeHandle(major, minor);
  const htb = { kind: 'htb', defaultMinor: 2, r2q: 10 } as const;
  const spec = compilePolicy(demoPolicy()).state.classes[0]!.spec;
  const qdisc = (handle: TcHandle, parent: TcHandle, leaf = false): KernelObject => ({ type: 'qdisc', ...at, handle, parent, spec: leaf ? { kind: 'pfifo', limitPackets: 1000 } : htb });
  const cls = (classid: TcHandle, parent: TcHandle): KernelObject => ({ type: 'class', ...at, classid, parent, spec });
  // root 1: → group 1:100 → its HTB 100: → subgroup 100:200 → its HTB 200: → container 200:30
  const objects: KernelObject[] = [
    cls(h(0x200, 0x30), h(0x200, 1)),
    qdisc(h(0x30, 0), h(0x200, 0x30), true),
    qdisc(h(0x200, 0), h(0x100, 0x200)),
    cls(h(0x200, 1), h(0x200, 0)),
    cls(h(0x100, 0x200), h(0x100, 1)),
    cls(h(0x100, 1), h(0x100, 0)),
    qdisc(h(0x100, 0), h(1, 0x100)),
    cls(h(1, 0x100), h(1, 1)),
    cls(h(1, 1), h(1, 0)),
    qdisc(h(1, 0), TC_H_ROOT),
  ];
  const state = { ...emptyKernelState(), qdiscs: objects.filter((o) => o.type === 'qdisc'), classes: objects.filter((o) => o.type === 'class') } as KernelState;

  /** Each create's parent (a class's qdisc or parent class, a qdisc's class) was created before it. */
  const parentsFirst = (plan: Plan): void => {
    const made = new Set<string>();
    for (const op of plan) {
      const o = op.object;
      if (o.type === 'class') {
        expect(made.has(`q${majorOf(o.classid)}`)).toBe(true);
        if (minorOf(o.parent) !== 0) expect(made.has(`c${o.parent}`)).toBe(true);
        made.add(`c${o.classid}`);
      }
      if (o.type === 'qdisc') {
        if (o.parent !== TC_H_ROOT) expect(made.has(`c${o.parent}`)).toBe(true);
        made.add(`q${majorOf(o.handle)}`);
      }
    }
  };

  it('creates each level after the class it hangs from, on a fresh machine and beside a converged one', () => {
    const fresh = diff(state, emptyKernelState());
    expect(fresh).toHaveLength(objects.length);
    parentsFirst(fresh);
    // Beside an unrelated observed object: the general path.
    const observed = { ...emptyKernelState(), namespaces: [{ type: 'namespace', name: 'sl-x' }] } as KernelState;
    const general = diff({ ...state, namespaces: observed.namespaces }, observed);
    expect(general).toHaveLength(objects.length);
    parentsFirst(general);
  });

  it('knows each nested qdisc its level, and nothing when no tree is nested', () => {
    const nesting = QdiscNesting.of(state.qdiscs)!;
    expect([1, 0x100, 0x200].map((major) => nesting.level(at.netns, at.dev, major))).toEqual([0, 1, 2]);
    expect(QdiscNesting.of(compilePolicy(demoPolicy()).state.qdiscs)).toBeUndefined();
  });
});
