import { describe, expect, it } from 'vitest';
import { rateBetween, samplesInWindow, steadyRate, type ByteSample } from '../../src/measure/rate';

/** 10 mbit/s = 1250 bytes/ms, sampled every 100 ms, with a slow-start second at half rate. */
function samples(): ByteSample[] {
  const out: ByteSample[] = [];
  let bytes = 0;
  for (let t = 0; t <= 5000; t += 100) {
    out.push({ t, bytes });
    bytes += t < 1000 ? 62_500 : 125_000;
  }
  return out;
}

describe('measure: steady-window rate', () => {
  it('skips the warm-up and returns the mean over the window', () => {
    expect(steadyRate(samples(), { warmupMs: 1000 })).toBeCloseTo(10e6, 0);
    expect(steadyRate(samples(), { warmupMs: 0 })).toBeLessThan(10e6);
  });

  it('honours explicit phase bounds', () => {
    const window = { fromMs: 2000, toMs: 3000, warmupMs: 500 };
    expect(samplesInWindow(samples(), window).map((s) => s.t)).toEqual([2500, 2600, 2700, 2800, 2900, 3000]);
    expect(steadyRate(samples(), window)).toBeCloseTo(10e6, 0);
  });

  it('mean is immune to sampling jitter; median of intervals is not', () => {
    // a late timer: a 100 ms interval sampled at 150 ms, the next one at 50 ms
    const jittered = samples().map((s) => (s.t === 2500 ? { t: 2550, bytes: s.bytes + 62_500 } : s));
    expect(steadyRate(jittered, { warmupMs: 1000 })).toBeCloseTo(10e6, 0);
    expect(steadyRate(jittered, { warmupMs: 1000, method: 'median' })).toBeCloseTo(10e6, 0);
  });

  it('median ignores a single stall', () => {
    const stalled = samples().map((s) => (s.t >= 3000 ? { t: s.t, bytes: s.bytes - 100_000 } : s));
    expect(steadyRate(stalled, { warmupMs: 1000, method: 'median' })).toBeCloseTo(10e6, 0);
    expect(steadyRate(stalled, { warmupMs: 1000 })).toBeLessThan(10e6);
  });

  it('refuses a window with fewer than two samples, saying why', () => {
    expect(() => steadyRate(samples(), { warmupMs: 10_000 })).toThrow(/at least 2 samples/);
    expect(() => rateBetween({ t: 1, bytes: 0 }, { t: 1, bytes: 5 })).toThrow(RangeError);
  });
});
