import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { htbClass, HtbClassSpecs, MAX_PACKET_BYTES, MIN_RATE, quantumBase, quantumBytesFor, type ClassRates } from '../../src/compile/htb';
import { MAX_GUARANTEE_RATIO } from '../../src/policy/limits';
import type { BitsPerSec, Bytes } from '../../src/units/units';

const LINK = 10e9 as BitsPerSec;

describe('HtbClassSpecs', () => {
  it('gives what htbClass gives, one object for equal rates', () => {
    // Few distinct values, so equal rates (and equal hashes of different rates) are common.
    const rates = fc.record({
      rate: fc.constantFrom(0, 1e6, 5e6, 1e9, 100e9) as fc.Arbitrary<BitsPerSec>,
      ceil: fc.constantFrom(1e6, 1e9, 100e9) as fc.Arbitrary<BitsPerSec>,
      prio: fc.integer({ min: 0, max: 7 }),
      burst: fc.option(fc.constantFrom(3200, 64_000) as fc.Arbitrary<Bytes>, { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(rates, { maxLength: 200 }), (all: ClassRates[]) => {
        const specs = new HtbClassSpecs(LINK);
        const got = all.map((r) => specs.of(r));
        all.forEach((r, i) => expect(got[i]).toEqual(htbClass(r, LINK)));
        all.forEach((r, i) => {
          const first = all.findIndex((s) => Object.is(s.rate, r.rate) && Object.is(s.ceil, r.ceil) && Object.is(s.prio, r.prio) && Object.is(s.burst, r.burst));
          expect(got[i]).toBe(got[first]);
        });
      }),
    );
  });

  it('tells apart rates whose hashes collide', () => {
    const specs = new HtbClassSpecs(LINK);
    // ((rate·31 + ceil)·31 + prio)·31 + burst is the same for both.
    const a = { rate: 31e6 as BitsPerSec, ceil: 1e9 as BitsPerSec, prio: 0 };
    const b = { rate: 30e6 as BitsPerSec, ceil: (1e9 + 31e6) as BitsPerSec, prio: 0 };
    expect(specs.of(a)).not.toBe(specs.of(b));
    expect(specs.of(b)).toEqual(htbClass(b, LINK));
  });

  it('keeps a prio of -0 apart from 0, as htbClass does', () => {
    const specs = new HtbClassSpecs(LINK);
    const zero = specs.of({ rate: 1e6 as BitsPerSec, ceil: 1e9 as BitsPerSec, prio: 0 });
    const minusZero = specs.of({ rate: 1e6 as BitsPerSec, ceil: 1e9 as BitsPerSec, prio: -0 });
    expect(Object.is(zero.prio, 0)).toBe(true);
    expect(Object.is(minusZero.prio, -0)).toBe(true);
  });
});

describe('quanta ∝ guarantees at any link speed', () => {
  const SPEEDS = [100e6, 1e9, 10e9, 40e9] as BitsPerSec[];
  /** HTB keeps quantum in an int (and adds a deficit to it). */
  const INT_MAX = 2 ** 31 - 1;

  /** Siblings' guarantees: Σ ≤ link, largest/smallest non-zero ≤ MAX_GUARANTEE_RATIO, some zero. */
  const siblings = (link: number) =>
    fc
      .array(fc.oneof({ arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 9 }, { arbitrary: fc.constant(0), weight: 1 }), { minLength: 1, maxLength: 40 })
      .map((ws) => {
        const total = ws.reduce((s, w) => s + w, 0) || 1;
        return ws.map((w) => Math.floor((w / total) * link));
      })
      .filter((gs) => {
        const nz = gs.filter((g) => g >= MIN_RATE);
        return nz.length > 0 && Math.max(...nz) / Math.min(...nz) <= MAX_GUARANTEE_RATIO && gs.every((g) => g === 0 || g >= MIN_RATE);
      });

  for (const link of SPEEDS) {
    it(`at ${link / 1e6} Mbit/s: quantum ratio = guarantee ratio, smallest ≥ one GSO packet, all fit HTB's int`, () => {
      fc.assert(
        fc.property(siblings(link), (gs) => {
          const base = quantumBase(gs, link);
          const quanta = gs.map((g) => htbClass({ rate: g as BitsPerSec, ceil: link, prio: 0 }, base).quantum);
          for (const q of quanta) {
            expect(q).toBeGreaterThanOrEqual(MAX_PACKET_BYTES);
            expect(q).toBeGreaterThanOrEqual(65_536);
            expect(q).toBeLessThanOrEqual(INT_MAX - MAX_PACKET_BYTES);
          }
          const nonZero = gs.flatMap((g, i) => (g > 0 ? [[g, quanta[i]!] as const] : []));
          const [g0, q0] = nonZero[0]!;
          for (const [g, q] of nonZero) expect(Math.abs(q / q0 - g / g0)).toBeLessThanOrEqual((g / g0) * 1e-4);
          // A DRR round stays within (2 × ratio) largest packets per sibling.
          expect(Math.max(...quanta)).toBeLessThanOrEqual(2 * MAX_GUARANTEE_RATIO * MAX_PACKET_BYTES);
        }),
      );
    });
  }

  it('gives 10 and 40 Mbit/s on a 10 Gbit/s link quanta 1:4 (the old floor gave 1:1)', () => {
    const link = 10e9 as BitsPerSec;
    const base = quantumBase([10e6, 40e6, 9e9], link);
    expect(quantumBytesFor(40e6 as BitsPerSec, base) / quantumBytesFor(10e6 as BitsPerSec, base)).toBeCloseTo(4, 4);
  });

  it('borrows zero guarantees and those below largest/ratio as largest/ratio', () => {
    const link = 1e9 as BitsPerSec;
    const base = quantumBase([0, 100e3, 900e6], link);
    expect(base).toBeLessThanOrEqual(900e6 / MAX_GUARANTEE_RATIO);
    expect(base).toBeGreaterThan(900e6 / MAX_GUARANTEE_RATIO / 2);
    expect(quantumBytesFor(0 as BitsPerSec, base)).toBe(MAX_PACKET_BYTES);
    expect(quantumBytesFor(100e3 as BitsPerSec, base)).toBe(MAX_PACKET_BYTES);
  });

  it('changes no sibling when a guarantee moves within its power of two', () => {
    const link = 1e9 as BitsPerSec;
    expect(quantumBase([10e6, 300e6], link)).toBe(quantumBase([12e6, 300e6], link));
  });
});
