import { describe, expect, it } from 'vitest';
import { allocate } from '../../src/allocate/oracle';
import { nextCeilings, type DeviceClassState } from '../../src/reconcile/borrowing';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';

const M = 1e6;
const LINK = bitsPerSec(100 * M);

interface Sim {
  id: string;
  guarantee: number;
  priority: number;
  /** What the container would send if unconstrained. */
  demand: number;
}

/** A toy plant: each container sends min(demand, ceiling) if the link has room, scaled down otherwise. */
function simulate(sims: Sim[], ticks: number, ceilings = new Map<string, BitsPerSec>()): { ceilings: Map<string, BitsPerSec>; history: Map<string, BitsPerSec>[] } {
  const history: Map<string, BitsPerSec>[] = [];
  for (const s of sims) if (!ceilings.has(s.id)) ceilings.set(s.id, bitsPerSec(s.guarantee * M));
  for (let t = 0; t < ticks; t++) {
    // With ceilings from the oracle Σ ceilings ≤ link, so each gets min(demand, ceiling).
    const state: DeviceClassState[] = sims.map((s) => ({
      id: s.id,
      guarantee: bitsPerSec(s.guarantee * M),
      maxCeiling: LINK,
      priority: s.priority,
      currentCeiling: ceilings.get(s.id)!,
      rate: bitsPerSec(Math.min(s.demand * M, ceilings.get(s.id)!)),
    }));
    ceilings = nextCeilings(LINK, state);
    history.push(ceilings);
  }
  return { ceilings, history };
}

const ideal = (sims: Sim[]) => allocate(LINK, sims.map((s) => ({ id: s.id, guarantee: bitsPerSec(s.guarantee * M), ceiling: LINK, priority: s.priority, demand: bitsPerSec(s.demand * M) })));

describe('per-device borrowing (control loop)', () => {
  const scenario: Sim[] = [
    { id: 'web', guarantee: 30, priority: 0, demand: 1000 },
    { id: 'batch', guarantee: 20, priority: 2, demand: 1000 },
    { id: 'backup', guarantee: 10, priority: 2, demand: 1000 },
    { id: 'api', guarantee: 20, priority: 1, demand: 0 },
  ];

  it('converges to the oracle within 3 ticks of a demand change', () => {
    const { history } = simulate(scenario, 3);
    const want = ideal(scenario);
    for (const s of scenario) {
      if (s.demand === 0) continue;
      expect(Math.abs(history[2]!.get(s.id)! - want.get(s.id)!)).toBeLessThan(0.05 * LINK);
    }
  });

  it('an idle container keeps its guarantee as ceiling, so it has it back at once', () => {
    const { ceilings } = simulate(scenario, 5);
    expect(ceilings.get('api')).toBe(20 * M);
  });

  it('no oscillation: with steady demand, ceilings stop changing', () => {
    const { history } = simulate(scenario, 10);
    expect(history[9]).toEqual(history[8]);
    expect(history[8]).toEqual(history[7]);
  });

  it('a lone container probes up to the whole link', () => {
    const lone: Sim[] = [{ id: 'web', guarantee: 10, priority: 0, demand: 1000 }, { id: 'b', guarantee: 10, priority: 0, demand: 0 }];
    const { history } = simulate(lone, 4);
    expect(history[3]!.get('web')!).toBeGreaterThanOrEqual(95 * M);
  });
});

describe('per-device borrowing with groups: ceilings from the hierarchical oracle', () => {
  it("lends by the groups' guarantees, not by how many members send", () => {
    // A (g40) with a1 (g10) sending and a2, a3 idle; B (g20) with b1 (g10) sending: the oracle gives A 66.7, B 33.3.
    const groups = [
      { id: 'A', guarantee: bitsPerSec(40 * M), ceiling: LINK, priority: 4 },
      { id: 'B', guarantee: bitsPerSec(20 * M), ceiling: LINK, priority: 4 },
    ];
    const members = [
      { id: 'a1', group: 'A', demand: 1000 },
      { id: 'a2', group: 'A', demand: 0 },
      { id: 'a3', group: 'A', demand: 0 },
      { id: 'b1', group: 'B', demand: 1000 },
    ];
    let ceilings = new Map(members.map((m) => [m.id, bitsPerSec(10 * M)]));
    for (let t = 0; t < 6; t++) {
      const state: DeviceClassState[] = members.map((m) => ({ id: m.id, group: m.group, guarantee: bitsPerSec(10 * M), maxCeiling: LINK, priority: 4, currentCeiling: ceilings.get(m.id)!, rate: bitsPerSec(Math.min(m.demand * M, ceilings.get(m.id)!)) }));
      ceilings = nextCeilings(LINK, state, undefined, groups);
    }
    expect(Math.abs(ceilings.get('a1')! - 66.67 * M)).toBeLessThan(0.05 * LINK);
    expect(Math.abs(ceilings.get('b1')! - 33.33 * M)).toBeLessThan(0.05 * LINK);
    expect(ceilings.get('a2')).toBe(10 * M);
  });
});
