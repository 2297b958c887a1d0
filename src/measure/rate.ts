// Rates from cumulative byte samples (what the loadgen receiver prints), over a steady
// window: the warm-up is skipped because TCP slow start and HTB's full initial bucket
// (the first `burst` bytes leave at line rate) both distort the first few hundred ms.
import { bitsPerSec, type BitsPerSec } from '../units/units';

/** A cumulative byte count at monotonic time `t` (ms). */
export interface ByteSample {
  readonly t: number;
  readonly bytes: number;
}

/**
 * `mean` (default): bytes delivered in the window divided by its duration, from the
 * first and last sample inside it. This is what the oracle's share means (a long-run
 * rate), what HTB's byte counters report, and it is immune to sampling jitter: a timer
 * firing late under CPU contention moves bytes between intervals but not out of the
 * window. HTB lends in quantum-sized turns and TCP sends in bursts, so per-interval
 * rates oscillate around the share and their distribution is skewed, which biases a median.
 * `median`: the median of per-interval rates; robust to one stall (e.g. a CPU hiccup in
 * the receiver), offered for diagnosis, not for verdicts.
 */
export type RateMethod = 'mean' | 'median';

export interface SteadyWindow {
  /** Start of the phase (ms, same clock as the samples); default: the first sample. */
  readonly fromMs?: number;
  /** End of the phase; default: the last sample. */
  readonly toMs?: number;
  /** Skipped after fromMs. */
  readonly warmupMs: number;
  readonly method?: RateMethod;
}

export const DEFAULT_WARMUP_MS = 1000;

/** The samples whose time lies in [from + warmup, to]. */
export function samplesInWindow(samples: readonly ByteSample[], window: SteadyWindow): readonly ByteSample[] {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) return [];
  const from = (window.fromMs ?? first.t) + window.warmupMs;
  const to = window.toMs ?? last.t;
  return samples.filter((sample) => sample.t >= from && sample.t <= to);
}

/** Bits per second between two samples. */
export function rateBetween(earlier: ByteSample, later: ByteSample): BitsPerSec {
  const ms = later.t - earlier.t;
  if (!(ms > 0)) throw new RangeError(`samples at ${earlier.t} and ${later.t} ms span no time`);
  return bitsPerSec(((later.bytes - earlier.bytes) * 8 * 1000) / ms);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The steady rate (goodput, if the samples are receiver counts) over the window. */
export function steadyRate(samples: readonly ByteSample[], window: SteadyWindow): BitsPerSec {
  const inside = samplesInWindow(samples, window);
  const first = inside[0];
  const last = inside.at(-1);
  if (first === undefined || last === undefined || inside.length < 2) {
    throw new RangeError(
      `steady window needs at least 2 samples, got ${inside.length} of ${samples.length} (warm-up ${window.warmupMs} ms too long, or the phase too short?)`,
    );
  }
  const method = window.method ?? 'mean';
  switch (method) {
    case 'mean':
      return rateBetween(first, last);
    case 'median':
      return bitsPerSec(median(inside.slice(1).map((sample, i) => rateBetween(inside[i] as ByteSample, sample))));
    default: {
      const unknown: never = method;
      throw new RangeError(`unknown rate method ${String(unknown)}`);
    }
  }
}
