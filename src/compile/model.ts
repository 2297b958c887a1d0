// What compiling a policy yields besides kernel objects: where each container ended
// up, so the reconciler, metrics and `inspect` can find its classes and devices.

import type { SourceRef } from '../policy/model';
import type { ResolvedWorkload } from '../workload/workload';
import type { TcHandle } from '../tc/handle';
import type { Direction, KernelState, NetnsLocator } from '../tc/model';
import type { BitsPerSec } from '../units/units';

export interface CompiledClassRef {
  readonly netns: NetnsLocator;
  readonly dev: string;
  readonly classid: TcHandle;
  /** Guarantee after overcommit scaling (equal to the policy's unless it scaled). */
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
}

export interface CompiledContainer {
  readonly name: string;
  /** managed, netns-path, pid, ip, cgroup, or the workload's source label (docker). */
  readonly matchKind: string;
  /** The container's own namespace (managed or attached). */
  readonly netns?: NetnsLocator;
  readonly address?: string;
  /** Dual-stack: its IPv6 address, in the same classes. */
  readonly address6?: string;
  /** Host-side veth in the host namespace. */
  readonly hostDev?: string;
  /** Container-side device inside its namespace. */
  readonly containerDev?: string;
  readonly classes: Readonly<Partial<Record<Direction, CompiledClassRef>>>;
  readonly cgroup?: string;
  /** The workload it shapes, for a workload match (a Docker container). */
  readonly workload?: ResolvedWorkload;
  readonly source: SourceRef;
}

export interface CompiledPolicy {
  readonly state: KernelState;
  readonly containers: readonly CompiledContainer[];
  /** Things the operator should know that do not stop the compile. */
  readonly notes: readonly string[];
}

/** What a compile reads from the observed state: the addresses and class minors already assigned. */
export interface ObservedInputs {
  readonly devNames: ReadonlyMap<string, string>;
  readonly addresses: ReadonlyMap<string, string>;
  readonly minors: ReadonlyMap<string, number>;
}
