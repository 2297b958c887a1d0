// HTB parameters from policy rates. Pure; units in the names.

import { bitsToBytesPerSec, bytes, type BitsPerSec, type Bytes } from '../units/units';
import type { HtbClassSpec, QdiscSpec } from '../tc/model';
import { MAX_GUARANTEE_RATIO } from '../policy/limits';

/**
 * The largest packet HTB may dequeue: a 64 KiB GSO/GRO packet (what a NIC with GRO, or a
 * veth Sluice did not make, delivers) plus the headers qdisc_pkt_len_init counts once per
 * segment (~2.9 KB at 45 segments). HTB's DRR sends at least one packet per turn, so a
 * quantum below this lets a small class send as much per turn as a large one.
 */
export const MAX_PACKET_BYTES: Bytes = bytes(73_728);
/**
 * Burst and cburst hold at least two largest packets. With less, one GSO packet drives a
 * bucket negative, and a class sending at its ceiling (or at the link, ceil = link) sits
 * out each refill; a lower priority borrows the gap. A priority-0 class capped below the
 * link got 85% of its ceiling that way with a 1 ms cburst.
 */
const MIN_BURST_BYTES = 2 * MAX_PACKET_BYTES;
/**
 * HTB keeps quantum and deficit in an int, and adds one to the other: the cap leaves the
 * sum room below 2^31. Only quanta of inner classes (unused by HTB) come near it.
 */
const MAX_QUANTUM_BYTES = 2 ** 30;
/** HTB rates of 0 are invalid; the floor for a zero guarantee. */
export const MIN_RATE = 8_000 as BitsPerSec;

/**
 * Bytes at line rate before the rate applies: ~1 ms worth of the rate, at least two of
 * the largest packets (MIN_BURST_BYTES).
 */
export function burstBytesFor(rate: BitsPerSec): Bytes {
  return bytes(Math.max(MIN_BURST_BYTES, Math.ceil(bitsToBytesPerSec(rate) / 1000)));
}

/**
 * The guarantee that gets the smallest quantum (MAX_PACKET_BYTES) among siblings: the
 * smallest non-zero guarantee, not below largest / MAX_GUARANTEE_RATIO, rounded down to
 * a power of two. Rounded, so that changing one container's rate changes one class
 * unless the smallest guarantee crosses a power of two; relative to the siblings, not
 * the link, so that a DRR round (Σ quanta) stays short: a link-relative unit would give
 * a class guaranteed half a 100 Mbit/s link seconds of the link per turn.
 */
export function quantumBase(guarantees: readonly number[], link: BitsPerSec): BitsPerSec {
  const range = new GuaranteeRange();
  for (let i = 0; i < guarantees.length; i++) range.add(guarantees[i]!);
  return range.quantumBase(link);
}

/**
 * What quantumBase reads of the siblings' guarantees, gathered one by one: their
 * smallest non-zero and their largest. Lets a caller that reads the guarantees anyway
 * skip listing them (the 101 HTBs of 100 groups listed 20,000, 0.46 MB with the lists'
 * growth).
 */
export class GuaranteeRange {
  private smallest = Infinity;
  private largest = 0;

  add(g: number): void {
    if (g > 0 && g < this.smallest) this.smallest = g;
    if (g > this.largest) this.largest = g;
  }

  /** quantumBase of the guarantees added. */
  quantumBase(link: BitsPerSec): BitsPerSec {
    return baseOf(this.smallest, this.largest, link);
  }
}

function baseOf(smallest: number, largest: number, link: BitsPerSec): BitsPerSec {
  const floor = largest > 0 ? Math.max(smallest, largest / MAX_GUARANTEE_RATIO, MIN_RATE) : Math.max(link, MIN_RATE);
  return (2 ** Math.floor(Math.log2(floor))) as BitsPerSec;
}

/**
 * Excess bandwidth within one priority is shared by DRR in proportion to quantum, so
 * quantum ∝ guarantee, with the base (quantumBase of the siblings) getting one largest
 * packet. The kernel takes an explicit quantum as given (its 1000..200000 clamp is only
 * for quanta it derives from r2q).
 */
export function quantumBytesFor(guarantee: BitsPerSec, base: BitsPerSec): Bytes {
  const scaled = (MAX_PACKET_BYTES * Math.max(guarantee, base)) / base;
  return bytes(Math.min(MAX_QUANTUM_BYTES, Math.round(scaled)));
}

export interface ClassRates {
  readonly rate: BitsPerSec;
  readonly ceil: BitsPerSec;
  readonly prio: number;
  readonly burst?: Bytes;
}

/** `base`: quantumBase of the class and its siblings. */
export function htbClass(r: ClassRates, base: BitsPerSec): HtbClassSpec {
  const rate = Math.max(r.rate, MIN_RATE) as BitsPerSec;
  const ceil = Math.max(r.ceil, rate) as BitsPerSec;
  const quantum = quantumBytesFor(rate, base);
  return {
    kind: 'htb',
    rate,
    ceil,
    burst: r.burst ?? burstBytesFor(rate),
    // At least one DRR turn: a class sends its quantum at line rate, and a cburst smaller
    // than that ended its turn early whenever its ceiling was below the link, so it got
    // fewer bytes per round than its quantum says (a 1:1 split measured 32:50).
    cburst: r.burst ?? bytes(Math.max(burstBytesFor(ceil), quantum)),
    prio: r.prio,
    quantum,
  };
}

/**
 * htbClass(rates, base) for one set of siblings, with equal specs shared: a spec is immutable and
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

  constructor(private readonly base: BitsPerSec) {}

  of(r: ClassRates): HtbClassSpec {
    return this.ofRates(r.rate, r.ceil, r.prio, r.burst);
  }

  /**
   * of({ rate, ceil, prio, burst }) without the object: a compile asks once per class,
   * and only the first rates of each spec are kept (as its object).
   */
  ofRates(rate: BitsPerSec, ceil: BitsPerSec, prio: number, burst: Bytes | undefined): HtbClassSpec {
    // In 32-bit integers (imul, xor): these stay small integers to V8 where the compile
    // runs unoptimised, where each step of a float hash of 1 Gbit/s rates made a heap
    // number (about 4 per class: 1.3 MB at 10,000 containers in 100 groups).
    const hash = Math.imul(Math.imul(Math.imul(rate | 0, 31) ^ (ceil | 0), 31) ^ (prio | 0), 31) ^ ((burst ?? -1) | 0);
    let shared = this.byHash.get(hash);
    if (shared === undefined) {
      shared = [];
      this.byHash.set(hash, shared);
    }
    for (let i = 0; i < shared.length; i++) if (sameRates(shared[i]!.rates, rate, ceil, prio, burst)) return shared[i]!.spec;
    const rates: ClassRates = burst === undefined ? { rate, ceil, prio } : { rate, ceil, prio, burst };
    const spec = htbClass(rates, this.base);
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
