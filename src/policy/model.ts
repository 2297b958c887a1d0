// The validated policy: what the loader (src/policy/load.ts) produces once every file
// has parsed and passed validation. Everything downstream (allocate, compile, the
// reconciler, the CLI) reads this, never the raw YAML.
//
// The shapes come from the zod schema (schema.ts, the one place a field is written):
// units are already parsed there. What is added here is only what validation decides
// across documents: a container's ceiling defaulted to the link, the gateway, the
// match as a tagged union (exhaustive switches), and where each element came from.

import type { Seconds } from '../units/units';
import type { Direction, NetnsLocator } from '../tc/model';
import type { ResolvedWorkload, SourceLabel } from '../workload/workload';
import type { ContainerDocument, GroupDocument, HostDocument, ScheduleDocument } from './schema';

/** Where a policy element came from, so errors and `inspect` can cite it. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

type HostSpec = HostDocument['spec'];
type ContainerSpec = ContainerDocument['spec'];
type DirectionSpec = ContainerSpec['download'];
type ScheduleSpec = ScheduleDocument['spec'];
type GroupDirectionSpec = GroupDocument['spec']['download'];

export type EnforcementMode = HostSpec['mode'];

/** What to do when Σ guarantees exceed the link in a direction. */
export type OvercommitPolicy = HostSpec['overcommit'];

export type HostPolicy = Readonly<Pick<HostSpec, 'mode' | 'bridge' | 'ifb' | 'subnet' | 'overcommit'>> & {
  readonly name: string;
  /** The namespace holding the bridge and IFB: a sandbox `sl-host` by default. */
  readonly netns: NetnsLocator;
  /** The bridge's address in `subnet`. */
  readonly gateway: string;
  /**
   * Dual-stack: the containers' IPv6 prefix, canonical ("2001:2::/64"), and the bridge's
   * IPv6 address in it (the prefix with the gateway's IPv4 address as the low 32 bits).
   */
  readonly subnet6?: string;
  readonly gateway6?: string;
  readonly capacity: Readonly<HostSpec['capacity']>;
  /**
   * The bridge and `netns` belong to a workload runtime (Docker, a CNI plugin, Podman):
   * Sluice shapes the bridge and adds its IFB, never creates, re-addresses or deletes them.
   */
  readonly external: boolean;
  /** The workload sources the Host enables (its `spec.<label>` sections), e.g. ["docker"]. */
  readonly sources: readonly SourceLabel[];
  readonly source: SourceRef;
};

/** One direction of a container: the schema's, with the ceiling defaulted (its group's, or the link). */
export type DirectionPolicy = Readonly<Omit<DirectionSpec, 'ceiling'> & Required<Pick<DirectionSpec, 'ceiling'>>>;

/** Which of a source's workloads a policy container shapes; every given field must match. */
export type WorkloadSelector = Readonly<Extract<ContainerSpec['match'], { docker: unknown }>['docker']>;

export type ContainerMatch =
  /** A namespace Sluice creates and owns (name under /run/netns, `sl-` prefixed). */
  | { readonly kind: 'managed'; readonly netns: string }
  /** An existing namespace by path (/run/netns/x, /proc/<pid>/ns/net). */
  | { readonly kind: 'netns-path'; readonly path: string }
  | { readonly kind: 'pid'; readonly pid: number }
  /** Traffic to/from an address (IPv4, or IPv6 in canonical text) on the bridge, wherever it comes from. */
  | { readonly kind: 'ip'; readonly address: string }
  /** Host-network processes in a net_cls cgroup (path under the net_cls root). */
  | { readonly kind: 'cgroup'; readonly path: string }
  /** A workload a source finds (`match: { docker: … }`), by name, service or label selector. */
  | ({ readonly kind: 'workload'; readonly source: SourceLabel } & WorkloadSelector);

export interface ContainerPolicy {
  readonly name: string;
  readonly match: ContainerMatch;
  /** Explicit address; otherwise assigned by IPAM for managed/attached namespaces. */
  readonly address?: string;
  /** IPv6 address (canonical text), classified into the same classes as `address`. */
  readonly address6?: string;
  readonly bandwidth: Readonly<Record<Direction, DirectionPolicy>>;
  /** The group it belongs to (a GroupPolicy's name); undefined: directly under the link. */
  readonly group?: string;
  readonly source: SourceRef;
  /** Set by resolution (src/sources/resolve.ts) for a workload match while the workload runs. */
  readonly workload?: ResolvedWorkload;
}

/**
 * One direction of a group: the schema's, with the ceiling defaulted to its parent
 * group's (or the link). The guarantee stays as written: absent, it is the sum of the
 * members' guarantees in force, which only the shaping tree knows (workloads come and go).
 */
export type GroupDirectionPolicy = Readonly<Omit<GroupDirectionSpec, 'ceiling'> & Required<Pick<GroupDirectionSpec, 'ceiling'>>>;

/** A set of containers (and groups) sharing one guarantee and one ceiling: a tenant, a team. */
export interface GroupPolicy {
  readonly name: string;
  /** The group it belongs to; undefined: directly under the link. */
  readonly parent?: string;
  readonly bandwidth: Readonly<Record<Direction, GroupDirectionPolicy>>;
  readonly source: SourceRef;
}

/** A change to apply while a schedule's window is open; absent fields keep their value. */
export interface SchedulePatch {
  readonly container: string;
  readonly bandwidth: Partial<Readonly<Record<Direction, Partial<DirectionPolicy>>>>;
}

export interface SchedulePolicy {
  readonly name: string;
  /** Five-field cron expression for the window's start (src/policy/cron.ts). */
  readonly cron: ScheduleSpec['cron'];
  readonly duration: Seconds;
  readonly patches: readonly SchedulePatch[];
  readonly source: SourceRef;
}

export interface Policy {
  readonly host: HostPolicy;
  readonly containers: readonly ContainerPolicy[];
  /** Parents before their children (validation orders them so). */
  readonly groups: readonly GroupPolicy[];
  readonly schedules: readonly SchedulePolicy[];
}
