import { describe, expect, it } from 'vitest';
import { seedPlan } from './seeds';

describe('seeded kernel tests: a fixed list plus one random extra, or a replay', () => {
  it('runs the fixed seeds and one random extra, and says how to replay them', () => {
    const plan = seedPlan('SLUICE_SEED', [1, 2, 3], {}, () => 99);
    expect(plan.seeds).toEqual([1, 2, 3, 99]);
    expect(plan.replay).toBe(false);
    expect(plan.banner).toContain('SLUICE_SEED=1,2,3,99');
  });

  it('replays exactly the seeds the environment names, and refuses what is not a seed', () => {
    expect(seedPlan('SLUICE_SEED', [1, 2, 3], { SLUICE_SEED: '42' }).seeds).toEqual([42]);
    expect(seedPlan('SLUICE_SEED', [1], { SLUICE_SEED: '7, 8' })).toMatchObject({ seeds: [7, 8], replay: true });
    expect(() => seedPlan('SLUICE_SEED', [1], { SLUICE_SEED: 'abc' })).toThrow(/non-negative integers/);
  });
});
