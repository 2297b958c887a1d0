// Per-container counters and rates from a compiled policy and observed class counters.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { type ObservedState, type TcCounters } from '../../src/tc/model';
import { classKey } from '../../src/tc/identity';
import { containerCounters, RateEstimator, snapshot } from '../../src/traffic/snapshot';
import { demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('ts-');
const compiled = compilePolicy(policy);
const web = compiled.containers.find((c) => c.name === 'web')!;
const webDown = web.classes.download!;
const webKey = classKey(webDown.netns, webDown.dev, webDown.classid);
const counters = (bytes: number, drops: number): TcCounters => ({ bytes, packets: bytes / 1000, drops, overlimits: 0, requeues: 0, backlogBytes: 0, qlen: 0 });

const observedWith = (stats: Map<string, TcCounters>): ObservedState => ({ ...compiled.state, stats });

describe('containerCounters', () => {
  it('takes drops from the class alone: HTB already counts its leaf queue refusals there', () => {
    const leaf = compiled.state.qdiscs.find((q) => q.dev === webDown.dev && q.parent === webDown.classid)!;
    const stats = new Map([
      [webKey, counters(5000, 7)],
      [`${leaf.netns}/${leaf.dev}/qdisc/${leaf.parent >>> 0}`, counters(5000, 7)],
    ]);
    expect(containerCounters(compiled, observedWith(stats)).get('download/web')?.counters.drops).toBe(7);
  });

  it('gives a container whose class is not in the kernel yet zero counters, not no row', () => {
    const rows = snapshot(compiled, observedWith(new Map()), policy.host, new RateEstimator(), 0).rows;
    expect(rows.find((r) => r.container === 'web' && r.direction === 'download')).toMatchObject({ bytes: 0, drops: 0, rate: 0 });
    expect(rows).toHaveLength(compiled.containers.length * 2);
  });
});

describe('snapshot rates', () => {
  it('estimates a rate from successive counters of the same compiled policy, and holds it over a counter reset', () => {
    const rates = new RateEstimator(1);
    snapshot(compiled, observedWith(new Map([[webKey, counters(0, 0)]])), policy.host, rates, 0);
    const second = snapshot(compiled, observedWith(new Map([[webKey, counters(1_250_000, 0)]])), policy.host, rates, 1000);
    const rate = second.rows.find((r) => r.container === 'web' && r.direction === 'download')!.rate;
    // 1.25 MB in one second is 10 Mbit/s; a 1 ms half-life leaves the estimate at the instant rate.
    expect(rate).toBeCloseTo(10e6, -3);
    const reset = snapshot(compiled, observedWith(new Map([[webKey, counters(10, 0)]])), policy.host, rates, 2000);
    expect(reset.rows.find((r) => r.container === 'web' && r.direction === 'download')!.rate).toBeCloseTo(rate, 6);
  });
});
