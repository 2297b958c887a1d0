// The validated policy: what the loader (src/policy/load.ts) produces once every file
// has parsed and passed validation. Everything downstream (allocate, compile, the
// reconciler, the CLI) reads this, never the raw YAML.

import type { BitsPerSec, Bytes, Seconds } from '../units/units';
import type { Direction, NetnsLocator } from '../tc/model';
import type { ResolvedWorkload, SourceLabel } from '../sources/source';

/** Where a policy element came from, so errors and `inspect` can cite it. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type EnforcementMode = 'shared' | 'per-device';

/** What to do when Σ guarantees exceed the link in a direction. */
export type OvercommitPolicy = 'reject' | 'scale-by-priority';

export interface HostPolicy {
  readonly name: string;
  readonly mode: EnforcementMode;
  /** The namespace holding the bridge and IFB: a sandbox `sl-host` by default. */
  readonly netns: NetnsLocator;
  readonly bridge: string;
  readonly ifb: string;
  /** Container subnet, e.g. "198.18.0.0/24"; the bridge takes `gateway`. */
  readonly subnet: string;
  readonly gateway: string;
  readonly capacity: Readonly<Record<Direction, BitsPerSec>>;
  readonly overcommit: OvercommitPolicy;
  /**
   * The bridge and `netns` belong to a workload runtime (Docker, a CNI plugin, Podman):
   * Sluice shapes the bridge and adds its IFB, never creates, re-addresses or deletes them.
   */
  readonly external: boolean;
  /** The workload sources the Host enables (its `spec.<label>` sections), e.g. ["docker"]. */
  readonly sources: readonly SourceLabel[];
  readonly source: SourceRef;
}

export interface DirectionPolicy {
  readonly guarantee: BitsPerSec;
  /** Defaults to the link capacity of that direction. */
  readonly ceiling: BitsPerSec;
  /** 0 = highest … 7. */
  readonly priority: number;
  /** Optional explicit burst; the compiler sizes one from the rate otherwise. */
  readonly burst?: Bytes;
}

export type ContainerMatch =
  /** A namespace Sluice creates and owns (name under /run/netns, `sl-` prefixed). */
  | { readonly kind: 'managed'; readonly netns: string }
  /** An existing namespace by path (/run/netns/x, /proc/<pid>/ns/net). */
  | { readonly kind: 'netns-path'; readonly path: string }
  | { readonly kind: 'pid'; readonly pid: number }
  /** Traffic to/from an address on the bridge, wherever it comes from. */
  | { readonly kind: 'ip'; readonly address: string }
  /** Host-network processes in a net_cls cgroup (path under the net_cls root). */
  | { readonly kind: 'cgroup'; readonly path: string }
  /** A workload a source finds (`match: { docker: … }`), by name, service or label selector. */
  | ({ readonly kind: 'workload'; readonly source: SourceLabel } & WorkloadSelector);

/** Which of a source's workloads a policy container shapes; every given field must match. */
export interface WorkloadSelector {
  readonly name?: string;
  readonly service?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ContainerPolicy {
  readonly name: string;
  readonly match: ContainerMatch;
  /** Explicit address; otherwise assigned by IPAM for managed/attached namespaces. */
  readonly address?: string;
  readonly bandwidth: Readonly<Record<Direction, DirectionPolicy>>;
  readonly source: SourceRef;
  /** Set by resolution (src/sources/resolve.ts) for a workload match while the workload runs. */
  readonly workload?: ResolvedWorkload;
}

/** A change to apply while a schedule's window is open; absent fields keep their value. */
export interface SchedulePatch {
  readonly container: string;
  readonly bandwidth: Partial<Readonly<Record<Direction, Partial<DirectionPolicy>>>>;
}

export interface SchedulePolicy {
  readonly name: string;
  /** Five-field cron expression (node-cron syntax) for the window's start. */
  readonly cron: string;
  readonly duration: Seconds;
  readonly patches: readonly SchedulePatch[];
  readonly source: SourceRef;
}

export interface Policy {
  readonly host: HostPolicy;
  readonly containers: readonly ContainerPolicy[];
  readonly schedules: readonly SchedulePolicy[];
}
