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

/**
 * htbClass(rates, link) for one link, with equal specs shared: a spec is immutable and
 * containers of one tier have equal rates, so they get one object between them. At
 * 10,000 containers in a few tiers that is 20,000 fewer specs (and 40,000 fewer boxed
 * rate and ceil numbers) for the garbage collector to copy while the compile runs.
 */
export class HtbClassSpecs {
  /**
   * Specs by a numeric hash of the rates, told apart within a hash by the rates
   * themselves. Numbers, not a string key: building a key string per class took as
   * long as building the spec.
   */
  private readonly byHash = new Map<number, { readonly rates: ClassRates; readonly spec: HtbClassSpec }[]>();

  constructor(private readonly link: BitsPerSec) {}

  of(r: ClassRates): HtbClassSpec {
    return this.ofRates(r.rate, r.ceil, r.prio, r.burst);
  }

  /**
   * of({ rate, ceil, prio, burst }) without the object: a compile asks once per class,
   * and only the first rates of each spec are kept (as its object).
   */
  ofRates(rate: BitsPerSec, ceil: BitsPerSec, prio: number, burst: Bytes | undefined): HtbClassSpec {
    const hash = ((rate * 31 + ceil) * 31 + prio) * 31 + (burst ?? -1);
    let shared = this.byHash.get(hash);
    if (shared === undefined) {
      shared = [];
      this.byHash.set(hash, shared);
    }
    for (let i = 0; i < shared.length; i++) if (sameRates(shared[i]!.rates, rate, ceil, prio, burst)) return shared[i]!.spec;
    const rates: ClassRates = burst === undefined ? { rate, ceil, prio } : { rate, ceil, prio, burst };
    const spec = htbClass(rates, this.link);
    // Rates that collide this often are not worth a longer search.
    if (shared.length < MAX_SHARED_PER_HASH) shared.push({ rates, spec });
    return spec;
  }
}

const MAX_SHARED_PER_HASH = 8;

/** Object.is, not ===: a prio of -0 gives a spec with prio -0, which is not that of 0. */
const sameRates = (a: ClassRates, rate: number, ceil: number, prio: number, burst: number | undefined): boolean =>
  Object.is(a.rate, rate) && Object.is(a.ceil, ceil) && Object.is(a.prio, prio) && Object.is(a.burst, burst);

/** Root HTB qdisc; r2q only matters for classes without an explicit quantum (none of ours). */
export function htbQdisc(defaultMinor: number): QdiscSpec {
  return { kind: 'htb', defaultMinor, r2q: 10 };
}
