// Rates, sizes and durations written for people, in the spellings the policy accepts
// (src/policy/rates.ts parses them): for plans, errors, tables and `inspect`. Pure.

import type { BitsPerSec, Bytes, Seconds } from './units';

/** 100e6 → "100mbit"; picks the largest SI unit that keeps the number short and exact. */
export function formatRate(rate: BitsPerSec): string {
  const steps: readonly [string, number][] = [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]];
  for (const [unit, factor] of steps) {
    if (rate >= factor) {
      const value = rate / factor;
      return `${Number.isInteger(value) ? value : Number(value.toFixed(2))}${unit}`;
    }
  }
  return `${Math.round(rate)}bit`;
}

export function formatSize(size: Bytes): string {
  if (size >= 1024 * 1024 && size % (1024 * 1024) === 0) return `${size / (1024 * 1024)}mib`;
  if (size >= 1024 && size % 1024 === 0) return `${size / 1024}kib`;
  return `${size}b`;
}

export function formatDuration(s: Seconds): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest || (!h && !m) ? `${rest}s` : ''}`;
}
