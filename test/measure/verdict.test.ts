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

  it('a small busy container that starves fails, though it is within 3% of the link', () => {
    // 1.2 mbit guaranteed on a 60 mbit link (2%): measuring 0 is 2% of the link off.
    const verdict = judgeAllocation(
      {
        capacity: C,
        containers: [busy('big', 50), { ...busy('small', 1.2), priority: 1 }],
        measuredGoodput: new Map([['big', goodputFor(58.8)], ['small', goodputFor(0)]]),
        tolerance: { perContainerOfCapacity: 0.03, minUtilisation: 0.95 },
      },
      standInAllocate,
    );
    const small = verdict.containers.find((c) => c.id === 'small')!;
    expect(small.errorOfCapacity).toBeLessThan(0.03);
    expect(small.floorPass).toBe(false);
    expect(small.pass).toBe(false);
    expect(formatVerdict(verdict)).toMatch(/FAIL small: .* floor 1\.08mbit MISSED/);
  });

  it('the floor is 90% of min(ideal, guarantee)', () => {
    const judge = (containers: OracleInput[], wire: Record<string, number>) =>
      judgeAllocation({ capacity: C, containers, measuredGoodput: new Map(Object.entries(wire).map(([id, w]) => [id, goodputFor(w)])) }, standInAllocate).containers;
    // a holds exactly its guarantee (b, priority 0, takes the rest): 90% of 10.
    const [a] = judge([{ ...busy('a', 10), priority: 1 }, busy('b', 20)], { a: 8.9, b: 51.1 });
    expect(a!.floor / 1e6).toBeCloseTo(9, 6);
    expect(a!.floorPass).toBe(false);
    // c borrows above its guarantee: the floor is 90% of the guarantee, not of the ideal.
    const [c] = judge([busy('c', 10), busy('d', 20)], { c: 9.1, d: 50.9 });
    expect(c!.ideal / 1e6).toBeCloseTo(20, 6);
    expect(c!.floor / 1e6).toBeCloseTo(9, 6);
    expect(c!.floorPass).toBe(true);
    // Demand below the guarantee: 90% of the ideal.
    const [e] = judge([{ ...busy('e', 10), demand: M(4) }], { e: 3.7 });
    expect(e!.floor / 1e6).toBeCloseTo(3.6, 6);
    expect(e!.floorPass).toBe(true);
  });

  it('an idle container has no floor', () => {
    const idle: OracleInput = { ...busy('b', 10), demand: M(0) };
    const verdict = judgeAllocation({ capacity: C, containers: [busy('a', 20), idle], measuredGoodput: new Map([['a', goodputFor(59)]]) }, standInAllocate);
    expect(verdict.containers[1]!.floor).toBe(0);
    expect(verdict.containers[1]!.floorPass).toBe(true);
  });

  it('drops are reported, and judged only with tolerance.maxDrops: one drop fails a "no drops" verdict, no count fails it too', () => {
    const input = { capacity: C, containers: [busy('a', 20)], measuredGoodput: new Map([['a', goodputFor(59.5)]]) };
    const noDrops = { perContainerOfCapacity: 0.05, minUtilisation: 0.95, maxDrops: 0 };
    expect(judgeAllocation({ ...input, drops: new Map([['a', 3]]) }, standInAllocate)).toMatchObject({ pass: true, totalDrops: 3, dropsPass: true });
    const dropped = judgeAllocation({ ...input, drops: new Map([['a', 1]]), tolerance: noDrops }, standInAllocate);
    expect(dropped).toMatchObject({ pass: false, dropsPass: false, utilisationPass: true });
    expect(formatVerdict(dropped)).toContain('drops 1 (at most 0: FAIL)');
    expect(judgeAllocation({ ...input, drops: new Map([['a', 0]]), tolerance: noDrops }, standInAllocate).pass).toBe(true);
    expect(judgeAllocation({ ...input, tolerance: noDrops }, standInAllocate).dropsPass).toBe(false);
  });

  it('rejects a measurement for an unknown container', () => {
    expect(() =>
      judgeAllocation({ capacity: C, containers: [busy('a', 20)], measuredGoodput: new Map([['zz', M(1)]]) }, standInAllocate),
    ).toThrow(/"zz"/);
  });
});
