import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { classRank, createRank, filterRank, linkRank, qdiscRank } from '../../src/plan/order';
import { flatten, type KernelObject } from '../../src/tc/model';
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
