// The ideal allocation of DESIGN.md: the oracle every test compares against and the
// allocator of the per-device mode. Pure: no clock, no kernel.

import { bitsPerSec, type BitsPerSec } from '../units/units';

export interface AllocationInput {
  readonly id: string;
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  /** 0 = highest … 7. */
  readonly priority: number;
  readonly demand: BitsPerSec;
}

export type Allocation = ReadonlyMap<string, BitsPerSec>;

/**
 * A container with a zero guarantee still borrows, with the smallest weight; this
 * mirrors HTB, whose quantum has a floor, so the kernel and the oracle agree.
 */
const MIN_WEIGHT = 1;

interface Claim {
  readonly id: string;
  readonly weight: number;
  /** How much more this container can take: min(demand, ceiling) − what it has. */
  want: number;
}

/**
 * 1. each gets min(demand, guarantee);
 * 2. the rest goes to unmet demand in strict priority order, water-filled within one
 *    priority in proportion to guarantees, never beyond min(demand, ceiling).
 * If the guarantees alone exceed the capacity (only possible when the policy scales
 * them), step 1 itself is water-filled by priority, so the result never exceeds C.
 */
export function allocate(capacity: BitsPerSec, inputs: readonly AllocationInput[]): Allocation {
  const given = new Map<string, number>(inputs.map((i) => [i.id, 0]));
  let remaining = Math.max(0, capacity);
  remaining = fillByPriority(inputs, given, remaining, (i) => Math.min(i.demand, i.guarantee, i.ceiling));
  fillByPriority(inputs, given, remaining, (i) => Math.min(i.demand, i.ceiling));
  return new Map([...given].map(([id, v]) => [id, bitsPerSec(v)]));
}

/** Raises each input towards `target(input)`, priority by priority; returns what is left. */
function fillByPriority(
  inputs: readonly AllocationInput[],
  given: Map<string, number>,
  available: number,
  target: (input: AllocationInput) => number,
): number {
  let remaining = available;
  for (const priority of distinctPriorities(inputs)) {
    if (remaining <= 0) break;
    const claims = inputs
      .filter((i) => i.priority === priority)
      .map((i): Claim => ({ id: i.id, weight: Math.max(i.guarantee, MIN_WEIGHT), want: Math.max(0, target(i) - given.get(i.id)!) }))
      .filter((c) => c.want > 0);
    remaining = waterFill(claims, given, remaining);
  }
  return remaining;
}

function distinctPriorities(inputs: readonly AllocationInput[]): number[] {
  return [...new Set(inputs.map((i) => i.priority))].sort((a, b) => a - b);
}

/** Proportional water-filling: satisfied claims leave, their unused share is re-offered. */
function waterFill(claims: Claim[], given: Map<string, number>, available: number): number {
  let remaining = available;
  let active = claims;
  while (active.length > 0 && remaining > 1e-9) {
    const totalWeight = active.reduce((s, c) => s + c.weight, 0);
    const sated = active.filter((c) => (remaining * c.weight) / totalWeight >= c.want);
    if (sated.length === 0) {
      for (const c of active) given.set(c.id, given.get(c.id)! + (remaining * c.weight) / totalWeight);
      return 0;
    }
    for (const c of sated) {
      given.set(c.id, given.get(c.id)! + c.want);
      remaining -= c.want;
    }
    active = active.filter((c) => !sated.includes(c));
  }
  return remaining;
}
