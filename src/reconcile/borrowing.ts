// Per-device mode: the kernel cannot lend between separate devices, so the control
// loop does (the BwE approach). Every tick: estimate each container's demand from its
// measured rate, run the oracle, set each ceiling to the allocation. Pure.
//
// Demand cannot be measured above a ceiling, so a container pressing against its
// ceiling is assumed to want more (probe upward by a step of the link); one well below
// it wants what it uses plus headroom. Ceilings never go below the guarantee, so an idle
// container that resumes gets its guarantee at once, without waiting for a tick.

import { allocate, type AllocationInput } from '../allocate/oracle';
import { allocateTree } from '../allocate/hierarchy';
import { bitsPerSec, type BitsPerSec } from '../units/units';

export interface DeviceClassState {
  readonly id: string;
  readonly guarantee: BitsPerSec;
  /** The policy's ceiling: the most the loop may ever hand out. */
  readonly maxCeiling: BitsPerSec;
  readonly priority: number;
  /** The ceiling currently in the kernel. */
  readonly currentCeiling: BitsPerSec;
  /** Smoothed measured rate (L2 bits/s, what HTB counts). */
  readonly rate: BitsPerSec;
  /** The group it belongs to (an id among the groups given to nextCeilings). */
  readonly group?: string;
}

/** A group of the policy: what its members may take together, lent by the loop as the kernel would lend it. */
export interface DeviceGroup {
  readonly id: string;
  readonly parent?: string;
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
}

export interface BorrowingTuning {
  /** Using at least this share of the current ceiling counts as pressing against it. */
  readonly pressingRatio: number;
  /** How far above its ceiling a pressing container probes, as a share of the link. */
  readonly probeOfLink: number;
  /** Headroom above the measured rate for a container that is not pressing. */
  readonly headroom: number;
  /** Ceiling changes smaller than this share of the link are not made (no flapping). */
  readonly hysteresisOfLink: number;
}

export const DEFAULT_TUNING: BorrowingTuning = { pressingRatio: 0.9, probeOfLink: 0.5, headroom: 1.1, hysteresisOfLink: 0.02 };

export function estimateDemand(c: DeviceClassState, link: BitsPerSec, tuning: BorrowingTuning): BitsPerSec {
  const pressing = c.rate >= c.currentCeiling * tuning.pressingRatio;
  if (pressing) return bitsPerSec(c.currentCeiling + link * tuning.probeOfLink);
  return bitsPerSec(c.rate * tuning.headroom);
}

/**
 * New ceilings per container. Capacity the oracle leaves unallocated (nobody wants it)
 * is spread over the containers pressing their ceiling, so the link stays usable while
 * demand is being discovered. With groups, the hierarchical oracle decides (a group's
 * members share what the group gets).
 */
export function nextCeilings(link: BitsPerSec, classes: readonly DeviceClassState[], tuning: BorrowingTuning = DEFAULT_TUNING, groups: readonly DeviceGroup[] = []): Map<string, BitsPerSec> {
  const inputs: AllocationInput[] = classes.map((c) => ({ id: c.id, guarantee: c.guarantee, ceiling: c.maxCeiling, priority: c.priority, demand: estimateDemand(c, link, tuning) }));
  const allocation =
    groups.length === 0
      ? allocate(link, inputs)
      : allocateTree(link, [...groups.map((g) => ({ ...g, demand: bitsPerSec(0) })), ...inputs.map((input, i) => (classes[i]!.group === undefined ? input : { ...input, parent: classes[i]!.group }))]);
  const out = new Map<string, BitsPerSec>();
  for (const c of classes) {
    const target = Math.min(c.maxCeiling, Math.max(c.guarantee, allocation.get(c.id) ?? 0));
    const keep = Math.abs(target - c.currentCeiling) < link * tuning.hysteresisOfLink;
    out.set(c.id, bitsPerSec(Math.round(keep ? c.currentCeiling : target)));
  }
  return out;
}
