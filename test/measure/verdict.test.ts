import { describe, expect, it } from 'vitest';
import { l2OverheadFactor, wireRateToGoodput } from '../../src/measure/overhead';
import { formatVerdict, judgeAllocation, type OracleInput } from '../../src/measure/verdict';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { standInAllocate } from './standInOracle';

const M = (n: number): BitsPerSec => bitsPerSec(n * 1e6);
const C = M(60);
const busy = (id: string, guarantee: number, priority = 0): OracleInput => ({
  id,
  guarantee: M(guarantee),
  ceiling: C,
  priority,
  demand: C,
});
/** What the receiver would count if the class got `wire` bits of L2 rate. */
const goodputFor = (wire: number): BitsPerSec => wireRateToGoodput(M(wire));

describe('measure: verdict against the oracle', () => {
  it('two equal-priority busy containers split the excess by guarantee: pass', () => {
    const verdict = judgeAllocation(
      {
        capacity: C,
        containers: [busy('a', 20), busy('b', 10)],
        measuredGoodput: new Map([
          ['a', goodputFor(39)],
          ['b', goodputFor(20.5)],
        ]),
        drops: new Map([
          ['a', 0],
          ['b', 2],
        ]),
      },
      standInAllocate,
    );
    expect(verdict.containers.map((c) => [c.id, c.ideal / 1e6])).toEqual([
      ['a', 40],
      ['b', 20],
    ]);
    expect(verdict.containers[0]?.error).toBeCloseTo(-1e6, -2);
    expect(verdict.containers[0]?.errorOfCapacity).toBeCloseTo(1 / 60, 6);
    expect(verdict.pass).toBe(true);
    expect(verdict.totalDrops).toBe(2);
    expect(verdict.linkUtilisation).toBeCloseTo(59.5 / 60, 6);
    expect(formatVerdict(verdict)).toMatch(/PASS a: measured 39\.00mbit .* ideal 40\.00mbit, error -1\.00mbit = 1\.7% of link/);
  });

  it('the tolerance is 5% of link capacity, not of the share', () => {
    const judge = (wireA: number): boolean =>
      judgeAllocation(
        { capacity: C, containers: [busy('a', 20), busy('b', 10)], measuredGoodput: new Map([['a', goodputFor(wireA)], ['b', goodputFor(60 - wireA)]]) },
        standInAllocate,
      ).containers[0]?.pass ?? false;
    expect(judge(42.9)).toBe(true); // 2.9 mbit off = 4.8% of 60
    expect(judge(43.1)).toBe(false); // 3.1 mbit off = 5.2% of 60
  });

  it('fails on under-utilisation even when each container is within tolerance', () => {
    const verdict = judgeAllocation(
      { capacity: C, containers: [busy('a', 20), busy('b', 10)], measuredGoodput: new Map([['a', goodputFor(37.5)], ['b', goodputFor(18.5)]]) },
      standInAllocate,
    );
    expect(verdict.containers.every((c) => c.pass)).toBe(true);
    expect(verdict.utilisationPass).toBe(false);
    expect(verdict.pass).toBe(false);
  });

  it('judges utilisation against what the oracle hands out when demand does not fill the link', () => {
    const light: OracleInput = { ...busy('a', 20), demand: M(10) };
    const verdict = judgeAllocation({ capacity: C, containers: [light], measuredGoodput: new Map([['a', goodputFor(9.8)]]) }, standInAllocate);
    expect(verdict.totalIdeal).toBeCloseTo(M(10), 0);
    expect(verdict.pass).toBe(true);
  });

  it('an idle container is measured 0 and its share goes to the busy one', () => {
    const idle: OracleInput = { ...busy('b', 10), demand: M(0) };
    const verdict = judgeAllocation({ capacity: C, containers: [busy('a', 20), idle], measuredGoodput: new Map([['a', goodputFor(59)]]) }, standInAllocate);
    expect(verdict.containers.map((c) => c.ideal / 1e6)).toEqual([60, 0]);
    expect(verdict.pass).toBe(true);
  });

  it('measured goodput is converted to L2 bits before comparing', () => {
    const verdict = judgeAllocation({ capacity: C, containers: [busy('a', 20)], measuredGoodput: new Map([['a', M(50)]]) }, standInAllocate);
    expect(verdict.containers[0]?.measured).toBeCloseTo(50e6 * l2OverheadFactor(), 0);
  });

  it('rejects a measurement for an unknown container', () => {
    expect(() =>
      judgeAllocation({ capacity: C, containers: [busy('a', 20)], measuredGoodput: new Map([['zz', M(1)]]) }, standInAllocate),
    ).toThrow(/"zz"/);
  });
});
