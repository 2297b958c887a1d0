import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { htbClass, HtbClassSpecs, type ClassRates } from '../../src/compile/htb';
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
