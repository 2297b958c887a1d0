// What a phase should give each container, from what the user wrote (the policy text, a
// random draw, Docker labels, pod annotations), never from the compiled classes: those
// set the kernel's rates, so a bug in parsing, unit scaling, overcommit scaling or label
// mapping would move the kernel and an oracle fed from them together, and every verdict
// would still pass. Pure.
import type { Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import type { Allocator, OracleInput } from './verdict';

/** One direction of a container as written; absent fields take the documented defaults. */
export interface WrittenDirection {
  readonly guarantee: BitsPerSec;
  /** Default: the link. */
  readonly ceiling?: BitsPerSec;
  /** Default: WRITTEN_DEFAULT_PRIORITY. */
  readonly priority?: number;
}

export interface WrittenContainer {
  /** The name the traffic site and the verdict know it by. */
  readonly name: string;
  readonly download: WrittenDirection;
  readonly upload: WrittenDirection;
}

/** A flat policy as its author wrote it: the link each way and the containers on it. */
export interface WrittenPolicy {
  readonly capacity: Readonly<Record<Direction, BitsPerSec>>;
  readonly containers: readonly WrittenContainer[];
}

/**
 * The priority of a direction that names none (README, policies/schema.json), stated
 * here rather than read from the schema: the judge takes nothing from the code it judges.
 */
export const WRITTEN_DEFAULT_PRIORITY = 4;

/** Who a phase judges, what each was promised (and whether it sends), and what each should get. */
export interface Expectation {
  readonly capacity: BitsPerSec;
  readonly containers: readonly OracleInput[];
  readonly ideal: ReadonlyMap<string, BitsPerSec>;
}

/**
 * What each container should get in `direction` while exactly `active` send. A flat
 * policy's judge is writtenJudge; a policy with groups has writtenTreeJudge
 * (treeJudge.ts), which holds the tree as written and a hierarchical allocator.
 */
export interface Judge {
  expect(direction: Direction, active: readonly string[]): Expectation;
}

/**
 * The oracle's inputs from `written`: a busy container demands twice the link (more than
 * it can get), an idle one nothing. Guarantees go in as written: where they add up to
 * more than the link the allocator water-fills them by priority itself.
 */
export function writtenJudge(written: WrittenPolicy, allocator: Allocator): Judge {
  return {
    expect(direction, active) {
      const capacity = written.capacity[direction];
      const containers = written.containers.map((c): OracleInput => {
        const d = c[direction];
        return {
          id: c.name,
          guarantee: d.guarantee,
          ceiling: d.ceiling ?? capacity,
          priority: d.priority ?? WRITTEN_DEFAULT_PRIORITY,
          demand: active.includes(c.name) ? bitsPerSec(capacity * 2) : bitsPerSec(0),
        };
      });
      return { capacity, containers, ideal: allocator(capacity, containers) };
    },
  };
}
