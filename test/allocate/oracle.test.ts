import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, type AllocationInput } from '../../src/allocate/oracle';
import { bitsPerSec } from '../../src/units/units';

const mbit = (n: number) => bitsPerSec(n * 1e6);
const C = mbit(100);
const input = (id: string, g: number, p: number, d: number, c = 100): AllocationInput => ({ id, guarantee: mbit(g), ceiling: mbit(c), priority: p, demand: mbit(d) });
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1000);

describe('allocate: the four rules on the demo containers', () => {
  it('a lone busy container borrows the whole link', () => {
    const a = allocate(C, [input('web', 30, 0, 1000), input('api', 20, 1, 0)]);
    near(a.get('web')!, mbit(100));
    near(a.get('api')!, 0);
  });

  it('equal priorities split the excess in proportion to guarantees', () => {
    const a = allocate(C, [input('batch', 20, 2, 1000), input('backup', 10, 2, 1000)]);
    near(a.get('batch')!, mbit(66.6667));
    near(a.get('backup')!, mbit(33.3333));
  });

  it('a higher priority takes the excess first; the others keep their guarantees', () => {
    const a = allocate(C, [input('web', 30, 0, 1000), input('batch', 20, 2, 1000), input('backup', 10, 2, 1000)]);
    near(a.get('web')!, mbit(70));
    near(a.get('batch')!, mbit(20));
    near(a.get('backup')!, mbit(10));
  });

  it('a ceiling caps borrowing and the rest goes to the next in line', () => {
    const a = allocate(C, [input('batch', 20, 2, 1000, 50), input('backup', 10, 3, 1000)]);
    near(a.get('batch')!, mbit(50));
    near(a.get('backup')!, mbit(50));
  });
});

const containers = fc.array(
  fc.record({
    guarantee: fc.integer({ min: 0, max: 30 }),
    extraCeiling: fc.integer({ min: 0, max: 100 }),
    priority: fc.integer({ min: 0, max: 7 }),
    demand: fc.integer({ min: 0, max: 150 }),
  }),
  { minLength: 1, maxLength: 8 },
).map((rows) => rows.map((r, i) => input(`c${i}`, r.guarantee, r.priority, r.demand, Math.min(100, r.guarantee + r.extraCeiling))))
  .filter((rows) => rows.reduce((s, r) => s + r.guarantee, 0) <= C);

describe('allocate: properties', () => {
  it('every busy container gets min(demand, guarantee)', () => {
    fc.assert(fc.property(containers, (cs) => {
      const a = allocate(C, cs);
      for (const c of cs) expect(a.get(c.id)!).toBeGreaterThanOrEqual(Math.min(c.demand, c.guarantee) - 1e-6);
    }));
  });

  it('is work-conserving: Σ = min(C, Σ min(demand, ceiling))', () => {
    fc.assert(fc.property(containers, (cs) => {
      const a = allocate(C, cs);
      const total = [...a.values()].reduce((s, v) => s + v, 0);
      const wanted = cs.reduce((s, c) => s + Math.min(c.demand, c.ceiling), 0);
      expect(Math.abs(total - Math.min(C, wanted))).toBeLessThan(1e-3);
    }));
  });

  it('never exceeds a ceiling or a demand', () => {
    fc.assert(fc.property(containers, (cs) => {
      const a = allocate(C, cs);
      for (const c of cs) expect(a.get(c.id)!).toBeLessThanOrEqual(Math.min(c.demand, c.ceiling) + 1e-6);
    }));
  });

  it('never leaves a higher priority wanting while a lower one borrows', () => {
    fc.assert(fc.property(containers, (cs) => {
      const a = allocate(C, cs);
      const wanting = cs.filter((c) => a.get(c.id)! < Math.min(c.demand, c.ceiling) - 1e-3);
      const borrowing = cs.filter((c) => a.get(c.id)! > c.guarantee + 1e-3);
      for (const w of wanting) for (const b of borrowing) expect(b.priority).toBeLessThanOrEqual(w.priority);
    }));
  });

  it('shares excess within a priority in proportion to guarantees among the unsated', () => {
    fc.assert(fc.property(containers, (cs) => {
      const a = allocate(C, cs);
      const unsated = cs.filter((c) => c.guarantee > 0 && a.get(c.id)! < Math.min(c.demand, c.ceiling) - 1e-3 && a.get(c.id)! > c.guarantee + 1e-3);
      for (const x of unsated) for (const y of unsated) {
        if (x.priority !== y.priority) continue;
        const rx = (a.get(x.id)! - x.guarantee) / x.guarantee;
        const ry = (a.get(y.id)! - y.guarantee) / y.guarantee;
        expect(Math.abs(rx - ry)).toBeLessThan(1e-6);
      }
    }));
  });
});
