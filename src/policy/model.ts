// The validated policy: what the loader (src/policy/load.ts) produces once every file
// has parsed and passed validation. Everything downstream (allocate, compile, the
// reconciler, the CLI) reads this, never the raw YAML.

import type { BitsPerSec, Bytes, Seconds } from '../units/units';
import type { Direction, NetnsLocator } from '../tc/model';

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
  /**
   * Dual-stack: the containers' IPv6 prefix, canonical ("2001:2::/64"), and the bridge's
   * IPv6 address in it (the prefix with the gateway's IPv4 address as the low 32 bits).
   */
  readonly subnet6?: string;
  readonly gateway6?: string;
  readonly capacity: Readonly<Record<Direction, BitsPerSec>>;
  readonly overcommit: OvercommitPolicy;
  /** Set when the containers are Docker's: the bridge is then Docker's, shaped but never created. */
  readonly docker?: DockerHostPolicy;
  readonly source: SourceRef;
}

export interface DockerHostPolicy {
  /** unix:///… socket of the Engine API; absent: the CLI flag, $DOCKER_HOST, or the default socket. */
  readonly endpoint?: string;
  /** Read io.sluice.* container labels as a policy source. */
  readonly labels: boolean;
}

/** The Docker container a `docker` match resolved to, while it runs. */
export interface DockerBinding {
  readonly id: string;
  readonly name: string;
  /** Its network namespace, /proc/<pid>/ns/net. */
  readonly netns: string;
  /**
   * Its device on the bridge's network, when known (Docker names a lone network's
   * device eth0): Sluice caps its GSO size as on its own veths.
   */
  readonly device?: string;
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
  /** Traffic to/from an address (IPv4, or IPv6 in canonical text) on the bridge, wherever it comes from. */
  | { readonly kind: 'ip'; readonly address: string }
  /** Host-network processes in a net_cls cgroup (path under the net_cls root). */
  | { readonly kind: 'cgroup'; readonly path: string }
  /** A Docker container by name, compose service or label selector. */
  | { readonly kind: 'docker'; readonly name?: string; readonly service?: string; readonly labels?: Readonly<Record<string, string>> };

export interface ContainerPolicy {
  readonly name: string;
  readonly match: ContainerMatch;
  /** Explicit address; otherwise assigned by IPAM for managed/attached namespaces. */
  readonly address?: string;
  /** IPv6 address (canonical text), classified into the same classes as `address`. */
  readonly address6?: string;
  readonly bandwidth: Readonly<Record<Direction, DirectionPolicy>>;
  readonly source: SourceRef;
  /** Set by resolution (src/docker/resolve.ts) for a running Docker container. */
  readonly docker?: DockerBinding;
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
