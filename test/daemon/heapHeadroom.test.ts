import { describe, expect, it } from 'vitest';
import { startCostMeter, type AnswerCost } from '../../src/daemon/answerCost';
import { heapHeadroom } from '../../src/daemon/heapHeadroom';

const costOf = (work: () => void): Promise<AnswerCost> => {
  const meter = startCostMeter();
  work();
  return new Promise((resolve) => meter.finish(resolve));
};

describe('heap headroom after a tick', () => {
  it('collects the new space when less than the headroom is left, and the answer meter sees the collection', async () => {
    // No new space is this large: every tick collects.
    const always = heapHeadroom(Number.MAX_SAFE_INTEGER);
    const cost = await costOf(() => expect(always.makeRoom()).toBe(true));
    expect(cost.gcCount).toBeGreaterThanOrEqual(1);
    expect(cost.newSpaceKb).toBeUndefined();
  });

  it('leaves the heap alone when there is room, or when turned off (0)', async () => {
    // Made outside the measured span: making one creates a context, which allocates.
    const roomy = heapHeadroom(1);
    const off = heapHeadroom(0);
    const cost = await costOf(() => {
      expect(roomy.makeRoom()).toBe(false);
      expect(off.makeRoom()).toBe(false);
    });
    expect(cost.gcCount).toBe(0);
    expect(cost.newSpaceKb).toBeGreaterThanOrEqual(0);
  });
});
