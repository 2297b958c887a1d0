// What compiling a policy yields besides kernel objects: where each container and group
// ended up, so the reconciler, metrics and `inspect` can find their classes and devices.

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
  /** The group it belongs to (undefined: directly under the link). */
  readonly group: string | undefined;
  readonly source: SourceRef;
}

export interface GroupRates {
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
}

/** A group as rendered: its class in its parent's tree (its members' total) per direction. */
export interface CompiledGroup {
  readonly name: string;
  readonly parent: string | undefined;
  /** 1 under the link, 2 under a group of level 1, … */
  readonly level: number;
  /** Its guarantee as enforced (its members' sum when it states none, after scaling), its ceiling and priority. */
  readonly bandwidth: Readonly<Record<Direction, GroupRates>>;
  /** Its class in its parent's HTB per direction (shared mode; per-device mode has none: the reconciler lends within it). */
  readonly classes: Readonly<Partial<Record<Direction, CompiledClassRef>>>;
  /** The handle of its own HTB, which holds its members' classes. */
  readonly qdisc: TcHandle;
  /** Its children (groups and containers), by name. */
  readonly members: readonly string[];
  readonly source: SourceRef;
}

/**
 * A peer set as rendered (shared mode): its class under the link per direction (all its
 * containers' traffic with its peers) and each container's class in its own HTB.
 */
export interface CompiledPeerSet {
  readonly name: string;
  readonly isDefault: boolean;
  readonly cidrs: readonly string[];
  /** Guarantee: its containers' guarantees in it together; ceiling: its capacity. */
  readonly classes: Readonly<Record<Direction, CompiledClassRef>>;
  /** [i]: CompiledPolicy.containers[i]'s class in this set, with its rates in the set. */
  readonly containers: readonly Readonly<Record<Direction, CompiledClassRef>>[];
}

export interface CompiledPolicy {
  readonly state: KernelState;
  readonly containers: readonly CompiledContainer[];
  /** Groups in force (with a container below them), parents before children. */
  readonly groups: readonly CompiledGroup[];
  /** Peer sets in policy order; absent for a policy without `peers:` (containers' classes are then their only ones). */
  readonly peerSets?: readonly CompiledPeerSet[];
  /** Things the operator should know that do not stop the compile. */
  readonly notes: readonly string[];
}

