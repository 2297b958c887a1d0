// The demo's script: which containers send in each phase, and which rule of DESIGN.md
// the phase shows. Pure data; the same phases drive the integration tests.

import type { Direction } from '../tc/model';

export interface Phase {
  readonly name: string;
  /** The rule the phase demonstrates, in an operator's words. */
  readonly shows: string;
  /** Containers sending at full speed during the phase; the rest are idle. */
  readonly active: readonly string[];
}

/**
 * For policies/demo.yaml (web p0 g30, api p1 g20, batch p2 g20 ceil 90, backup p2 g10):
 * one container alone, priority 0 against priority 1, two equal priorities, a higher
 * priority joining, and the idle container's share going away and coming back.
 * "rank" is the one phase where web and api compete: without it web's and api's classes
 * could be swapped and every phase would still pass (web in api's class against batch and
 * backup gets the same 70 mbit/s).
 */
export const DEMO_PHASES: readonly Phase[] = [
  { name: 'lend', shows: 'a lone container borrows the whole link', active: ['web'] },
  { name: 'rank', shows: 'priority 0 takes the excess before priority 1, which keeps its guarantee', active: ['web', 'api'] },
  { name: 'share', shows: 'equal priorities split the excess in proportion to guarantees (2:1)', active: ['batch', 'backup'] },
  { name: 'priority', shows: 'a higher priority takes the excess first; the others keep their guarantees', active: ['web', 'batch', 'backup'] },
  { name: 'idle', shows: "an idle container's share goes to the busy ones", active: ['batch', 'backup'] },
  { name: 'return', shows: 'and comes back when it sends again', active: ['web', 'batch', 'backup'] },
];

/**
 * For policies/tenants.yaml beside demo.yaml (shop g10 ceil 60 p1 ⊃ web-shop, db-shop;
 * lab g5 p3 ⊃ notebook): a tenant borrows by its own priority up to its own ceiling,
 * whatever its members' priorities; a lone member gets its tenant's share.
 */
export const GROUP_PHASES: readonly Phase[] = [
  { name: 'tenants', shows: "a tenant borrows by its priority up to its ceiling (shop: 60), a lone member gets its tenant's share, the other tenant keeps its guarantee", active: ['web-shop', 'notebook', 'backup'] },
];

/** The phases a policy's containers can play: the demo's, and the tenants' when their containers are there. */
export function phasesFor(containers: readonly string[]): Phase[] {
  const present = new Set(containers);
  return [...DEMO_PHASES, ...GROUP_PHASES.filter((p) => p.active.every((name) => present.has(name)))];
}

export const DEMO_DIRECTIONS: readonly Direction[] = ['download', 'upload'];
