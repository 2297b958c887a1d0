// The kernel objects Sluice manages, as plain data with no I/O. The compiler produces
// them (desired state), the kernel port reads them back (observed state) in the same
// shapes, and the planner diffs the two. One codec per `spec.kind` lives in src/kernel/rtnl/tc/.

import type { BitsPerSec, Bytes } from '../units/units';
import type { TcHandle } from './handle';

/**
 * Where an object lives. A bare name is a namespace under /run/netns (as `ip netns`
 * names them); an absolute path is any netns file (`/proc/<pid>/ns/net`, a bind mount);
 * HOST_NETNS is the namespace Sluice itself runs in (only with an explicit flag).
 */
export type NetnsLocator = string;
export const HOST_NETNS: NetnsLocator = '.';

/** Every name Sluice creates (namespaces, links, cgroups) starts with this. */
export const OWNED_PREFIX = 'sl-';

export type Direction = 'download' | 'upload';
export const DIRECTIONS: readonly Direction[] = ['download', 'upload'];

// ---------------------------------------------------------------- namespaces and links

export interface NamespaceObject {
  readonly type: 'namespace';
  /** A named namespace Sluice creates and deletes (under /run/netns). */
  readonly name: string;
  /**
   * Dual-stack: created with IPv6 on but no address autoconfiguration (only the
   * addresses Sluice assigns). Absent: IPv4-only. Read when creating, not diffed.
   */
  readonly ipv6?: true;
}

export interface LinkCommon {
  readonly type: 'link';
  readonly netns: NetnsLocator;
  readonly name: string;
  readonly mtu?: number;
  /**
   * Largest GSO packet the device builds. HTB's DRR serves at least one packet per turn,
   * so packets larger than a class's quantum break proportional sharing; Sluice caps the
   * veths it creates.
   */
  readonly gsoMaxSize?: number;
  readonly up: boolean;
  /** Name of the bridge this link is enslaved to, in the same namespace. */
  readonly master?: string;
  /**
   * A port of a bridge Sluice owns, isolated (IFLA_BRPORT_ISOLATED): it forwards frames
   * only to the bridge device and non-isolated ports, never to another isolated port, so
   * traffic between two containers on the bridge is routed through the bridge device and
   * shaped by both trees (docs/decisions.md, "Traffic between two containers on the same
   * bridge"). Absent: left as the kernel has it (observed: read only on bridge ports).
   */
  readonly isolated?: boolean;
}

export type LinkSpec =
  | { readonly kind: 'bridge' }
  | { readonly kind: 'ifb' }
  /** A veth whose peer is created directly inside `peerNetns` (not created then moved). */
  | { readonly kind: 'veth'; readonly peerName: string; readonly peerNetns: NetnsLocator }
  /** A device Sluice does not create but shapes (e.g. a Docker bridge); never deleted. */
  | { readonly kind: 'external' };

export type LinkObject = LinkCommon & { readonly spec: LinkSpec };

/** A device Sluice shapes but does not own (a Docker bridge), by where it is. */
export interface ExternalDevice {
  readonly netns: NetnsLocator;
  readonly dev: string;
}

export interface AddressObject {
  readonly type: 'address';
  readonly netns: NetnsLocator;
  readonly dev: string;
  /** "198.18.0.2/24" */
  readonly cidr: string;
}

export interface RouteObject {
  readonly type: 'route';
  readonly netns: NetnsLocator;
  /** "default" or a CIDR. */
  readonly dst: string;
  readonly via?: string;
  readonly dev?: string;
}

export interface SysctlObject {
  readonly type: 'sysctl';
  readonly netns: NetnsLocator;
  /** Dotted key, e.g. "net.ipv4.ip_forward". */
  readonly key: string;
  readonly value: string;
}

// ---------------------------------------------------------------- tc

export type QdiscSpec =
  | {
      readonly kind: 'htb';
      /** Minor of the class that unclassified traffic goes to. */
      readonly defaultMinor: number;
      readonly r2q: number;
      readonly directQlen?: number;
    }
  | { readonly kind: 'ingress' }
  | { readonly kind: 'clsact' }
  | { readonly kind: 'pfifo'; readonly limitPackets: number }
  | { readonly kind: 'fq_codel' }
  | { readonly kind: 'sfq'; readonly perturbSec: number }
  | ForeignSpec;

/**
 * A qdisc or filter found on a device Sluice shapes, of a kind it does not model or with
 * options it did not write (the codec's decode error says which). Only ever observed,
 * never desired: the diff replaces it where Sluice wants an object with its identity and
 * deletes it otherwise, as it does any object on its devices it does not want.
 */
export interface ForeignSpec {
  readonly kind: 'foreign';
  /** The kernel's name for the kind (TCA_KIND). */
  readonly tcKind: string;
  /** Why Sluice could not read it, for the operator. */
  readonly problem: string;
}

/** The qdisc kinds Sluice writes. */
export type QdiscKind = Exclude<QdiscSpec, ForeignSpec>['kind'];

export interface QdiscObject {
  readonly type: 'qdisc';
  readonly netns: NetnsLocator;
  readonly dev: string;
  readonly handle: TcHandle;
  readonly parent: TcHandle;
  readonly spec: QdiscSpec;
}

export interface HtbClassSpec {
  readonly kind: 'htb';
  readonly rate: BitsPerSec;
  readonly ceil: BitsPerSec;
  /** Bytes that may be sent at line speed before `rate` applies. */
  readonly burst: Bytes;
  readonly cburst: Bytes;
  /** 0 = highest … 7. */
  readonly prio: number;
  /** Bytes served per DRR round when borrowing; ∝ guarantee, kept inside the kernel's bounds. */
  readonly quantum: Bytes;
  /**
   * Read from the kernel only: the class has children (tc_htb_opt.level > 0). The kernel
   * ignores a new quantum for such a class, so its quantum is not compared.
   */
  readonly inner?: true;
}

export type ClassSpec = HtbClassSpec;

export interface ClassObject {
  readonly type: 'class';
  readonly netns: NetnsLocator;
  readonly dev: string;
  readonly classid: TcHandle;
  readonly parent: TcHandle;
  readonly spec: ClassSpec;
}

/** One 32-bit match of a u32 selector: (packet[off..off+4] & mask) == value, network order. */
export interface U32Key {
  readonly value: number;
  readonly mask: number;
  readonly off: number;
  readonly offmask?: number;
}

/** Redirect the packet to another device's egress (how ingress reaches the IFB). */
export type ActionSpec = { readonly kind: 'mirred'; readonly action: 'egress-redirect' | 'egress-mirror'; readonly targetDev: string };

export type FilterSpec =
  | {
      readonly kind: 'u32';
      /** Hash-table creation: `divisor` buckets, no selector. */
      readonly divisor?: number;
      /** Jump into hash table `link` (a u32 handle "htid:0:0"), hashing on `hashKey`. */
      readonly link?: number;
      readonly hashKey?: { readonly mask: number; readonly off: number };
      readonly keys: readonly U32Key[];
      readonly classid?: TcHandle;
      readonly actions?: readonly ActionSpec[];
    }
  | {
      readonly kind: 'bpf';
      /** Which Sluice-built program: reads the sending socket's net_cls classid. */
      readonly program: 'netcls-classid';
      readonly directAction: boolean;
      readonly classid?: TcHandle;
    }
  | ForeignSpec;

/** The filter kinds Sluice writes. */
export type FilterKind = Exclude<FilterSpec, ForeignSpec>['kind'];

export interface FilterObject {
  readonly type: 'filter';
  readonly netns: NetnsLocator;
  readonly dev: string;
  /** The qdisc (or class) the filter is attached to. */
  readonly parent: TcHandle;
  /** tc "pref"; lower runs first. */
  readonly prio: number;
  /** ETH_P_* in host order (ETH_P_IP = 0x0800, ETH_P_ALL = 0x0003). */
  readonly protocol: number;
  /** Kind-specific handle (for u32: htid:hash:node packed as tc does). */
  readonly handle: number;
  readonly spec: FilterSpec;
}

export const ETH_P_IP = 0x0800;
export const ETH_P_ALL = 0x0003;

/** A cgroup (v1 net_cls) whose sockets are tagged with an HTB class id. */
export interface CgroupClassidObject {
  readonly type: 'cgroup-classid';
  /** Path relative to the net_cls hierarchy root, e.g. "sl-backup". */
  readonly cgroup: string;
  readonly classid: TcHandle;
}

export type KernelObject =
  | NamespaceObject
  | LinkObject
  | AddressObject
  | RouteObject
  | SysctlObject
  | QdiscObject
  | ClassObject
  | FilterObject
  | CgroupClassidObject;

export type KernelObjectType = KernelObject['type'];

/** Desired or observed state: the same shape on both sides of the diff. */
export interface KernelState {
  readonly namespaces: readonly NamespaceObject[];
  readonly links: readonly LinkObject[];
  readonly addresses: readonly AddressObject[];
  readonly routes: readonly RouteObject[];
  readonly sysctls: readonly SysctlObject[];
  readonly qdiscs: readonly QdiscObject[];
  readonly classes: readonly ClassObject[];
  readonly filters: readonly FilterObject[];
  readonly cgroups: readonly CgroupClassidObject[];
}

/**
 * The lists of a state, in the one order every pass over a whole state uses (parents'
 * types before their children's): flatten, the diff's passes, merging.
 */
export const STATE_LISTS = ['namespaces', 'links', 'addresses', 'routes', 'sysctls', 'qdiscs', 'classes', 'filters', 'cgroups'] as const satisfies readonly (keyof KernelState)[];

type StateList = (typeof STATE_LISTS)[number];
// Every list of KernelState is in STATE_LISTS (a compile error otherwise).
const everyList: Exclude<keyof KernelState, StateList> extends never ? true : never = true;
void everyList;

/** The state's lists in STATE_LISTS order, without copying them into one array. */
export const stateLists = (s: KernelState): readonly (readonly KernelObject[])[] => STATE_LISTS.map((name) => s[name]);

export const flatten = (s: KernelState): KernelObject[] => stateLists(s).flat();

export const stateSize = (s: KernelState): number => STATE_LISTS.reduce((n, name) => n + s[name].length, 0);

export const emptyKernelState = (): KernelState => ({
  namespaces: [],
  links: [],
  addresses: [],
  routes: [],
  sysctls: [],
  qdiscs: [],
  classes: [],
  filters: [],
  cgroups: [],
});

// ---------------------------------------------------------------- statistics

/** TCA_STATS2: basic + queue counters of a qdisc or class. */
export interface TcCounters {
  readonly bytes: number;
  readonly packets: number;
  readonly drops: number;
  readonly overlimits: number;
  readonly requeues: number;
  readonly backlogBytes: number;
  readonly qlen: number;
}

/** struct tc_htb_xstats. */
export interface HtbXstats {
  readonly lends: number;
  readonly borrows: number;
  readonly giants: number;
  readonly tokens: number;
  readonly ctokens: number;
}

export interface ClassStats {
  readonly key: string;
  readonly counters: TcCounters;
  readonly htb?: HtbXstats;
}

/** What the kernel port returns from a dump: the objects plus counters keyed by objectKey. */
export interface ObservedState extends KernelState {
  readonly stats: ReadonlyMap<string, TcCounters & { readonly htb?: HtbXstats }>;
  /**
   * Equal for two observations only if every object (counters aside) is the same in both;
   * absent when the observer cannot tell, and then nothing may be concluded from it.
   */
  readonly revision?: string;
  /**
   * When the counters in `stats` were read (monotonic ms, the clock of performance.now()).
   * Rates must divide by the time between reads, not between the moments someone got
   * round to looking at them: on a busy host those differ by tens of milliseconds.
   */
  readonly statsAt?: number;
}

export { assertNever } from './never';
