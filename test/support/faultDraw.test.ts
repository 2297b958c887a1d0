import { describe, expect, it } from 'vitest';
import { drawFaults, FIXED_FAULT_SEEDS, FOLLOW_UPS } from './faultDraw';
import { seededRandom } from './randomPolicy';

/** The fixed seeds' faults as the kernel test draws them (two hosts, plans of `total` operations). */
function fixedFaults(total: number) {
  return FIXED_FAULT_SEEDS.flatMap((seed) => {
    const random = seededRandom(seed);
    return [0, 1].flatMap((host) => drawFaults(random, total, seed).map((c) => ({ ...c, host, seed })));
  });
}

describe('the fault injector\'s fixed seeds', () => {
  it('cover at least 20 drawn positions, both positional kinds on both hosts, and crashes followed by destroy and by re-apply', () => {
    const faults = fixedFaults(60);
    const positional = faults.filter((f) => f.fault.kind !== 'crash-after-record');
    expect(positional.length).toBeGreaterThanOrEqual(20);
    for (const kind of ['refused', 'applied-then-error']) {
      for (const host of [0, 1]) expect(positional.some((f) => f.fault.kind === kind && f.host === host), `${kind} on host ${host}`).toBe(true);
    }
    const crashes = faults.filter((f) => f.fault.kind === 'crash-after-record');
    for (const then of FOLLOW_UPS) expect(crashes.some((f) => f.then === then), `crash, then ${then}`).toBe(true);
  });

  it('draws every position in 1..total, the same for the same seed', () => {
    const at = (total: number) => fixedFaults(total).flatMap((f) => (f.fault.kind === 'crash-after-record' ? [] : [f.fault.at]));
    expect(at(60).every((n) => n >= 1 && n <= 60)).toBe(true);
    expect(at(60)).toEqual(at(60));
  });
});
