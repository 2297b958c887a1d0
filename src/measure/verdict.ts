// Measured per-container rates against the ideal allocation, with the tolerance of
// issue #4: each container within 5% of LINK CAPACITY of the oracle (not 5% of its own
// share: a 2 mbit share on a 100 mbit link may be off by 5 mbit), and the link used to
// at least 95% of what the oracle hands out. A bound in % of the link alone lets a small
// container starve unnoticed (2% of the link measured as 0 passes at 3%), so every busy
// container must also reach a floor relative to what it was promised (RELATIVE_FLOOR).
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { ETHERNET_IPV4_TCP_TIMESTAMPS, goodputToWireRate, type FrameGeometry } from './overhead';

/** Structurally the oracle's AllocationInput (src/allocate/oracle.ts). */
export interface OracleInput {
  readonly id: string;
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
  readonly demand: BitsPerSec;
}

/** The oracle's signature: allocate(capacity, demands). */
export type Allocator = (capacity: BitsPerSec, demands: readonly OracleInput[]) => ReadonlyMap<string, BitsPerSec>;

export interface Tolerance {
  /** Allowed |measured - ideal| as a fraction of link capacity. */
  readonly perContainerOfCapacity: number;
  /** Required Σ measured / Σ ideal. */
  readonly minUtilisation: number;
  /** Most packets the containers' classes may drop over the window, all together; unset: drops reported, not judged. */
  readonly maxDrops?: number;
}

export const ISSUE_TOLERANCE: Tolerance = { perContainerOfCapacity: 0.05, minUtilisation: 0.95 };

/**
 * A busy container gets at least this share of min(ideal, guarantee), the spec's figure.
 * Not 95% where the ideal is the guarantee (as from c572a99 to session 12): a 3.47 Mbit/s
 * guarantee over 7 TCP flows, judged on 2.5 s of receiver goodput, measured 94.8–101.4%
 * of it in five runs of one draw (seed 578353212, download), and a 2 Mbit/s one 93–102%
 * while HTB's counters showed 99.5–105% (docs/decisions.md, "A random draw measures
 * 4.5 s"): that spread is the meter's, not the shaper's.
 */
export const RELATIVE_FLOOR = 0.9;

/** The least a busy container may measure: 0 for an idle one (demand 0). */
export function relativeFloor(container: OracleInput, ideal: BitsPerSec): BitsPerSec {
  if (!(container.demand > 0)) return bitsPerSec(0);
  return bitsPerSec(Math.min(ideal, container.guarantee) * RELATIVE_FLOOR);
}

export interface VerdictInput {
  /** Link capacity in the bits HTB counts (L2). */
  readonly capacity: BitsPerSec;
  readonly containers: readonly OracleInput[];
  /** Receiver goodput per container id over the steady window; a missing id measured 0. */
  readonly measuredGoodput: ReadonlyMap<string, BitsPerSec>;
  /** How goodput maps to L2 bits; default MTU 1500, IPv4, TCP timestamps. */
  readonly geometry?: FrameGeometry;
  /** Drops per container over the window (from the class counters); judged only against tolerance.maxDrops. */
  readonly drops?: ReadonlyMap<string, number>;
  readonly tolerance?: Tolerance;
}

export interface ContainerVerdict {
  readonly id: string;
  readonly measuredGoodput: BitsPerSec;
  /** Measured, in L2 bits (comparable with the oracle and the HTB rates). */
  readonly measured: BitsPerSec;
  readonly ideal: BitsPerSec;
  /** measured - ideal (signed). */
  readonly error: BitsPerSec;
  /** |error| / capacity. */
  readonly errorOfCapacity: number;
  /** relativeFloor: what a busy container must reach whatever the link-relative bound says. */
  readonly floor: BitsPerSec;
  readonly floorPass: boolean;
  /** Within the link-relative bound and at or above the floor. */
  readonly pass: boolean;
  readonly drops: number | undefined;
}

export interface Verdict {
  readonly pass: boolean;
  readonly capacity: BitsPerSec;
  readonly tolerance: Tolerance;
  readonly containers: readonly ContainerVerdict[];
  readonly totalMeasured: BitsPerSec;
  readonly totalIdeal: BitsPerSec;
  /** Σ measured / capacity. */
  readonly linkUtilisation: number;
  /**
   * Σ measured / Σ ideal: equals link utilisation whenever demand saturates the link; when
   * the oracle itself leaves capacity idle (demands or ceilings below C) demanding 95% of C
   * would fail a correct shaper, so the requirement is relative to what the oracle hands out.
   */
  readonly utilisationOfIdeal: number;
  readonly utilisationPass: boolean;
  readonly totalDrops: number | undefined;
  /** Within tolerance.maxDrops (true when drops are not judged). */
  readonly dropsPass: boolean;
}

function judgeContainer(input: VerdictInput, ideal: BitsPerSec, container: OracleInput, tolerance: Tolerance): ContainerVerdict {
  const measuredGoodput = input.measuredGoodput.get(container.id) ?? bitsPerSec(0);
  const measured = goodputToWireRate(measuredGoodput, input.geometry ?? ETHERNET_IPV4_TCP_TIMESTAMPS);
  const error = bitsPerSec(measured - ideal);
  const errorOfCapacity = Math.abs(error) / input.capacity;
  const floor = relativeFloor(container, ideal);
  const floorPass = measured >= floor;
  return {
    id: container.id,
    measuredGoodput,
    measured,
    ideal,
    error,
    errorOfCapacity,
    floor,
    floorPass,
    pass: errorOfCapacity <= tolerance.perContainerOfCapacity && floorPass,
    drops: input.drops?.get(container.id),
  };
}

export function judgeAllocation(input: VerdictInput, allocator: Allocator): Verdict {
  if (!(input.capacity > 0)) throw new RangeError(`link capacity must be positive, got ${input.capacity}`);
  const known = new Set(input.containers.map((container) => container.id));
  for (const id of input.measuredGoodput.keys()) {
    if (!known.has(id)) throw new RangeError(`measured rate for "${id}", which is not among the containers judged`);
  }
  const tolerance = input.tolerance ?? ISSUE_TOLERANCE;
  const ideal = allocator(input.capacity, input.containers);
  const containers = input.containers.map((container) =>
    judgeContainer(input, ideal.get(container.id) ?? bitsPerSec(0), container, tolerance),
  );
  const totalMeasured = bitsPerSec(containers.reduce((sum, c) => sum + c.measured, 0));
  const totalIdeal = bitsPerSec(containers.reduce((sum, c) => sum + c.ideal, 0));
  const utilisationOfIdeal = totalIdeal > 0 ? totalMeasured / totalIdeal : 1;
  const utilisationPass = utilisationOfIdeal >= tolerance.minUtilisation;
  const dropCounts = containers.map((c) => c.drops).filter((d): d is number => d !== undefined);
  const totalDrops = dropCounts.length > 0 ? dropCounts.reduce((a, b) => a + b, 0) : undefined;
  // Judged drops that were never counted fail: "no drops" needs a count of zero.
  const dropsPass = tolerance.maxDrops === undefined || (totalDrops !== undefined && totalDrops <= tolerance.maxDrops);
  return {
    pass: utilisationPass && dropsPass && containers.every((c) => c.pass),
    capacity: input.capacity,
    tolerance,
    containers,
    totalMeasured,
    totalIdeal,
    linkUtilisation: totalMeasured / input.capacity,
    utilisationOfIdeal,
    utilisationPass,
    totalDrops,
    dropsPass,
  };
}

const mbit = (rate: number): string => `${(rate / 1e6).toFixed(2)}mbit`;
const percent = (fraction: number): string => `${(fraction * 100).toFixed(1)}%`;

/** Human lines: one per container, then the link. */
export function formatVerdict(verdict: Verdict): string {
  const lines = verdict.containers.map(
    (c) =>
      `${c.pass ? 'PASS' : 'FAIL'} ${c.id}: measured ${mbit(c.measured)} (goodput ${mbit(c.measuredGoodput)}), ideal ${mbit(c.ideal)}, ` +
      `error ${c.error >= 0 ? '+' : ''}${mbit(c.error)} = ${percent(c.errorOfCapacity)} of link` +
      `${c.floor > 0 ? `, floor ${mbit(c.floor)}${c.floorPass ? '' : ' MISSED'}` : ''}` +
      `${c.drops !== undefined ? `, drops ${c.drops}` : ''}`,
  );
  lines.push(
    `${verdict.utilisationPass ? 'PASS' : 'FAIL'} link: ${mbit(verdict.totalMeasured)} of ${mbit(verdict.capacity)} ` +
      `(${percent(verdict.linkUtilisation)} of capacity, ${percent(verdict.utilisationOfIdeal)} of ideal ${mbit(verdict.totalIdeal)}; ` +
      `need ${percent(verdict.tolerance.minUtilisation)})${verdict.totalDrops !== undefined ? `, drops ${verdict.totalDrops}` : ''}` +
      `${verdict.tolerance.maxDrops !== undefined ? ` (at most ${verdict.tolerance.maxDrops}${verdict.dropsPass ? '' : ': FAIL'})` : ''}`,
  );
  return lines.join('\n');
}
