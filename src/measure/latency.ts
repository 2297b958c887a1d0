// Round-trip times of a light flow: percentiles of what the loadgen's ping measured,
// idle against loaded, and what the load delivered meanwhile. Pure.
import type { Direction } from '../tc/model';
import type { BitsPerSec } from '../units/units';

export interface RttSummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summariseRtts(ms: readonly number[]): RttSummary {
  return { samples: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99) };
}

export interface LatencyReport {
  /** The priority-0 container the light flow ran to. */
  readonly container: string;
  /** Containers saturating the link, per direction, while loaded was measured. */
  readonly busy: Readonly<Record<Direction, readonly string[]>>;
  readonly idle: RttSummary;
  readonly loaded: RttSummary;
  /** loaded − idle, per percentile. */
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  /**
   * The busy containers' goodput, summed, over the loaded window: a loaded figure means
   * something only if the load ran (senders that failed would leave loaded ≈ idle).
   */
  readonly loadedGoodput: Readonly<Record<Direction, BitsPerSec>>;
}

export function latencyReport(container: string, busy: Readonly<Record<Direction, readonly string[]>>, idleMs: readonly number[], loadedMs: readonly number[], loadedGoodput: Readonly<Record<Direction, BitsPerSec>>): LatencyReport {
  const idle = summariseRtts(idleMs);
  const loaded = summariseRtts(loadedMs);
  return { container, busy, idle, loaded, addedP50Ms: loaded.p50Ms - idle.p50Ms, addedP99Ms: loaded.p99Ms - idle.p99Ms, loadedGoodput };
}

export function formatLatency(r: LatencyReport): string {
  const f = (s: RttSummary): string => `p50 ${s.p50Ms.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms (${s.samples} round trips)`;
  return [
    `light flow to ${r.container} (priority 0), idle: ${f(r.idle)}`,
    `while ${r.busy.download.join(', ')} saturate download (${(r.loadedGoodput.download / 1e6).toFixed(1)} mbit/s goodput) and ${r.busy.upload.join(', ')} upload (${(r.loadedGoodput.upload / 1e6).toFixed(1)} mbit/s): ${f(r.loaded)}`,
    `added: p50 ${r.addedP50Ms >= 0 ? '+' : ''}${r.addedP50Ms.toFixed(3)} ms, p99 ${r.addedP99Ms >= 0 ? '+' : ''}${r.addedP99Ms.toFixed(3)} ms`,
  ].join('\n');
}
