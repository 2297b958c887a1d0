// HTB parameters from policy rates. Pure; units in the names.

import { bitsToBytesPerSec, bytes, type BitsPerSec, type Bytes } from '../units/units';
import type { HtbClassSpec, QdiscSpec } from '../tc/model';

/** Ethernet MTU frame plus headroom: HTB must be able to send one full frame per burst. */
const MIN_BURST_BYTES = 3200;
/** HTB's quantum bounds (it warns and clamps outside 1000..200000 bytes). */
const MIN_QUANTUM_BYTES = 1000;
const MAX_QUANTUM_BYTES = 200_000;
/** Quantum of a class guaranteed the whole link; proportional down to 1/200 of it. */
const LINK_QUANTUM_BYTES = 200_000;
/** HTB rates of 0 are invalid; the floor for a zero guarantee. */
export const MIN_RATE = 8_000 as BitsPerSec;

/**
 * Bytes at line rate before the rate applies: ~1 ms worth of the rate, at least a
 * couple of frames, so TCP is not starved at low rates nor bursty at high ones.
 */
export function burstBytesFor(rate: BitsPerSec): Bytes {
  return bytes(Math.max(MIN_BURST_BYTES, Math.ceil(bitsToBytesPerSec(rate) / 1000)));
}

/**
 * Excess bandwidth within one priority is shared by DRR in proportion to quantum, so
 * quantum ∝ guarantee. Scaled against the link, not against the other classes, so that
 * changing one container's rate changes one class.
 */
export function quantumBytesFor(guarantee: BitsPerSec, link: BitsPerSec): Bytes {
  const scaled = (LINK_QUANTUM_BYTES * Math.max(guarantee, MIN_RATE)) / Math.max(link, MIN_RATE);
  return bytes(Math.min(MAX_QUANTUM_BYTES, Math.max(MIN_QUANTUM_BYTES, Math.round(scaled))));
}

export interface ClassRates {
  readonly rate: BitsPerSec;
  readonly ceil: BitsPerSec;
  readonly prio: number;
  readonly burst?: Bytes;
}

export function htbClass(r: ClassRates, link: BitsPerSec): HtbClassSpec {
  const rate = Math.max(r.rate, MIN_RATE) as BitsPerSec;
  const ceil = Math.max(r.ceil, rate) as BitsPerSec;
  return {
    kind: 'htb',
    rate,
    ceil,
    burst: r.burst ?? burstBytesFor(rate),
    cburst: r.burst ?? burstBytesFor(ceil),
    prio: r.prio,
    quantum: quantumBytesFor(rate, link),
  };
}

/** Root HTB qdisc; r2q only matters for classes without an explicit quantum (none of ours). */
export function htbQdisc(defaultMinor: number): QdiscSpec {
  return { kind: 'htb', defaultMinor, r2q: 10 };
}
