// The ideal allocation with destination classes (issue #23): the link's share goes
// first to peer sets, then each set's share to the containers' flows with that set, by
// the four rules at both levels. Pure, and written from what the user wrote (the Host's
// sets with their capacities, each container's rates per set, demands per container and
// set), never from compiled classes: it builds the tree the rules describe and hands it
// to allocateTree.
//
// The tree is set-first (docs/decisions.md, "Destination classes"): a set guarantees
// what its containers are guaranteed in it (at most its capacity), may take at most its
// capacity, and borrows beside the other sets at one priority, in proportion to those
// guarantees. With one set at the link's capacity it is the flat oracle.

import { bitsPerSec, type BitsPerSec } from '../units/units';
import { allocateTree, type TreeAllocationInput } from './hierarchy';
import type { Allocation } from './oracle';

/** Sets beside each other borrow at one priority: they have none of their own. */
export const PEER_SET_PRIORITY = 4;

export interface PeerSetInput {
  readonly name: string;
  /** Most all containers together get with this set (the link where none is written). */
  readonly capacity: BitsPerSec;
}

/** One container's traffic with one set: its rates there and what it would send. */
export interface FlowInput {
  readonly container: string;
  readonly set: string;
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
  readonly demand: BitsPerSec;
}

export interface SetAllocation {
  /** By set name: what all containers together get with it. */
  readonly sets: Allocation;
  /** By flowKey(container, set). */
  readonly flows: Allocation;
  /** By container: the sum over its sets. */
  readonly containers: Allocation;
}

export const flowKey = (container: string, set: string): string => `${container}@${set}`;
const setKey = (set: string): string => `set:${set}`;

export function allocateSets(capacity: BitsPerSec, sets: readonly PeerSetInput[], flows: readonly FlowInput[]): SetAllocation {
  const nodes: TreeAllocationInput[] = sets.map((s) => {
    const guaranteed = flows.filter((f) => f.set === s.name).reduce((sum, f) => sum + f.guarantee, 0);
    return { id: setKey(s.name), guarantee: bitsPerSec(Math.min(guaranteed, s.capacity)), ceiling: s.capacity, priority: PEER_SET_PRIORITY, demand: bitsPerSec(0) };
  });
  for (const f of flows) nodes.push({ id: flowKey(f.container, f.set), parent: setKey(f.set), guarantee: f.guarantee, ceiling: f.ceiling, priority: f.priority, demand: f.demand });
  const shares = allocateTree(capacity, nodes);
  const bySet = new Map(sets.map((s) => [s.name, shares.get(setKey(s.name))!]));
  const byFlow = new Map<string, BitsPerSec>();
  const byContainer = new Map<string, number>();
  for (const f of flows) {
    const share = shares.get(flowKey(f.container, f.set))!;
    byFlow.set(flowKey(f.container, f.set), share);
    byContainer.set(f.container, (byContainer.get(f.container) ?? 0) + share);
  }
  return { sets: bySet, flows: byFlow, containers: new Map([...byContainer].map(([k, v]) => [k, bitsPerSec(v)])) };
}
