import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate } from '../../src/allocate/oracle';
import { allocateSets, flowKey, type FlowInput } from '../../src/allocate/destinations';
import { bitsPerSec } from '../../src/units/units';

const mbit = (n: number) => bitsPerSec(n * 1e6);
const C = mbit(1000);
const flow = (container: string, set: string, g: number, d: number, c = 1000, p = 4): FlowInput => ({ container, set, guarantee: mbit(g), ceiling: mbit(c), priority: p, demand: mbit(d) });
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1000);
const CLUSTER = { name: 'cluster', capacity: C };

describe('destinations oracle: sets, then containers in each set', () => {
  it('(a) cluster traffic limited only by the link, internet capped per pod', () => {
    const internet = { name: 'internet', capacity: C };
    const a = allocateSets(C, [CLUSTER, internet], [flow('p1', 'cluster', 0, 2000), flow('p1', 'internet', 0, 2000, 50), flow('p2', 'internet', 0, 2000, 50)]);
    near(a.flows.get(flowKey('p1', 'internet'))!, mbit(50));
    near(a.flows.get(flowKey('p2', 'internet'))!, mbit(50));
    near(a.flows.get(flowKey('p1', 'cluster'))!, mbit(900));
    near(a.containers.get('p1')!, mbit(950));
  });

  it('(b) a node-wide internet budget is shared by the four rules inside it, the rest of the link goes to the cluster', () => {
    const internet = { name: 'internet', capacity: mbit(100) };
    const a = allocateSets(C, [CLUSTER, internet], [flow('p1', 'internet', 10, 2000, 1000, 4), flow('p2', 'internet', 30, 2000, 1000, 4), flow('p3', 'internet', 20, 2000, 1000, 6), flow('p3', 'cluster', 0, 2000)]);
    // 100 in the set: guarantees 10, 30, 20; the excess 40 to priority 4 in proportion 1:3.
    near(a.flows.get(flowKey('p1', 'internet'))!, mbit(20));
    near(a.flows.get(flowKey('p2', 'internet'))!, mbit(60));
    near(a.flows.get(flowKey('p3', 'internet'))!, mbit(20));
    near(a.sets.get('internet')!, mbit(100));
    near(a.flows.get(flowKey('p3', 'cluster'))!, mbit(900));
  });

  it('(c) a pod guaranteed 20 to the internet and 200 overall (180 + 20) keeps both against busy neighbours', () => {
    const internet = { name: 'internet', capacity: mbit(100) };
    const a = allocateSets(C, [CLUSTER, internet], [
      flow('c', 'cluster', 180, 2000),
      flow('c', 'internet', 20, 2000),
      flow('n', 'cluster', 700, 2000),
      flow('n', 'internet', 50, 2000),
    ]);
    expect(a.flows.get(flowKey('c', 'internet'))!).toBeGreaterThanOrEqual(mbit(20) - 1);
    expect(a.containers.get('c')!).toBeGreaterThanOrEqual(mbit(200) - 1);
    // The sets split the link's excess in proportion to their guarantees (880 : 70), the internet's within its 100.
    near(a.sets.get('internet')!, mbit(70 + (50 * 70) / 950));
    near(a.containers.get('c')! + a.containers.get('n')!, C);
  });

  it('an idle set lends its share to the other sets; a set never takes more than its capacity', () => {
    const internet = { name: 'internet', capacity: mbit(100) };
    const idle = allocateSets(C, [CLUSTER, internet], [flow('p', 'cluster', 100, 2000), flow('p', 'internet', 100, 0)]);
    near(idle.flows.get(flowKey('p', 'cluster'))!, C);
    const capped = allocateSets(C, [CLUSTER, internet], [flow('p', 'cluster', 100, 0), flow('p', 'internet', 100, 2000)]);
    near(capped.flows.get(flowKey('p', 'internet'))!, mbit(100));
  });

  it('with one set at the link it is the flat oracle (property)', () => {
    const container = fc.record({ g: fc.integer({ min: 0, max: 100 }), c: fc.integer({ min: 1, max: 1000 }), p: fc.integer({ min: 0, max: 7 }), d: fc.integer({ min: 0, max: 1500 }) });
    fc.assert(
      fc.property(fc.array(container, { minLength: 1, maxLength: 8 }), (cs) => {
        const inputs = cs.map((x, i) => ({ id: `c${i}`, guarantee: mbit(Math.min(x.g, x.c)), ceiling: mbit(x.c), priority: x.p, demand: mbit(x.d) }));
        const flat = allocate(C, inputs);
        const sets = allocateSets(C, [{ name: 'default', capacity: C }], inputs.map((i) => ({ container: i.id, set: 'default', guarantee: i.guarantee, ceiling: i.ceiling, priority: i.priority, demand: i.demand })));
        for (const i of inputs) expect(Math.abs(sets.containers.get(i.id)! - flat.get(i.id)!)).toBeLessThan(1);
      }),
    );
  });

  it('never above the link or a set capacity, and every busy flow gets min(want, guarantee) (property)', () => {
    const f = fc.record({ set: fc.integer({ min: 0, max: 2 }), g: fc.integer({ min: 0, max: 50 }), c: fc.integer({ min: 1, max: 1000 }), p: fc.integer({ min: 0, max: 7 }), d: fc.integer({ min: 0, max: 1500 }) });
    fc.assert(
      fc.property(fc.array(f, { minLength: 1, maxLength: 10 }), fc.array(fc.integer({ min: 200, max: 1000 }), { minLength: 3, maxLength: 3 }), (fs, caps) => {
        const sets = caps.map((cap, i) => ({ name: `s${i}`, capacity: mbit(cap) }));
        const flows = fs.map((x, i) => flow(`c${i}`, `s${x.set}`, Math.min(x.g, x.c), x.d, x.c, x.p));
        // Only what validation admits (policy/peers.ts): Σ guarantees in a set within its
        // capacity. Five flows of 41 in a set of 200 cannot all get their guarantee.
        fc.pre(sets.every((s) => flows.filter((x) => x.set === s.name).reduce((t, x) => t + x.guarantee, 0) <= s.capacity));
        const a = allocateSets(C, sets, flows);
        let total = 0;
        for (const s of sets) {
          expect(a.sets.get(s.name)!).toBeLessThanOrEqual(s.capacity + 1);
          total += a.sets.get(s.name)!;
        }
        expect(total).toBeLessThanOrEqual(C + 1);
        for (const x of flows) expect(a.flows.get(flowKey(x.container, x.set))!).toBeGreaterThanOrEqual(Math.min(x.demand, x.guarantee, x.ceiling) - 1);
      }),
    );
  });
});
