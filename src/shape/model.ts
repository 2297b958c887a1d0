// The shaping tree: what the policy asks of the datapath, with no datapath in it. The
// link is the root; under it groups (nested) and containers; each node has its rates
// per direction (guarantees as they will be enforced: a group's default filled in, an
// overcommitted level scaled) and, for a container, the match that selects its packets
// (its addresses, parsed once; its cgroup) and where it lives (namespace, devices). A
// renderer turns it into kernel objects (src/compile/: nested HTB, u32, BPF, cgroup
// classids); another datapath would be another renderer. Pure types.
//
// A new node kind (a destination set under a container, or above it) is another member
// of ShapeNode: it has a parent, rates and a match like the others, and the renderers'
// switches over `kind` say where it goes.

import type { ContainerPolicy, GroupPolicy, HostPolicy } from '../policy/model';
import type { Direction, NetnsLocator } from '../tc/model';
import type { BitsPerSec, Bytes } from '../units/units';

/** One direction of a node, as enforced. */
export interface NodeRates {
  /** After the group default (its members' sum) and overcommit scaling. */
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  /** 0 = highest … 7, among its siblings. */
  readonly priority: number;
  readonly burst: Bytes | undefined;
}

/** A set of containers (and groups) sharing one guarantee and one ceiling. */
export interface GroupNode {
  readonly kind: 'group';
  /** Its name, unique among groups and containers. */
  readonly id: string;
  readonly parent: GroupNode | undefined;
  /** 1 under the link, 2 under a group of level 1, … */
  readonly level: number;
  /** The renderer's number for it, unique on the host and stable (src/shape/naming.ts). */
  readonly slot: number;
  readonly download: NodeRates;
  readonly upload: NodeRates;
  readonly policy: GroupPolicy;
}

/**
 * A container: where it is, how its packets are told apart, and its rates. Undefined
 * fields do not apply to it (no namespace of its own, no address). One object per
 * container with its fields spelled out (a compile makes 10,000; see build.ts).
 */
export interface ContainerNode {
  readonly kind: 'container';
  readonly policy: ContainerPolicy;
  readonly parent: GroupNode | undefined;
  readonly slot: number;
  readonly netns: NetnsLocator | undefined;
  readonly managed: boolean;
  readonly hostDev: string | undefined;
  readonly containerDev: string | undefined;
  /** Its IPv4 address, as text and as the number the classifiers match (parsed once). */
  readonly address: string | undefined;
  readonly address4: number;
  /** Dual-stack: classified into the same node as `address`. */
  readonly address6: string | undefined;
  /** Guarantees as enforced, as fields: no object per container. */
  readonly downloadGuarantee: BitsPerSec;
  readonly uploadGuarantee: BitsPerSec;
}

export type ShapeNode = GroupNode | ContainerNode;

export interface ShapeTree {
  readonly host: HostPolicy;
  /** Groups with a container in force below them, parents before children. */
  readonly groups: readonly GroupNode[];
  readonly containers: readonly ContainerNode[];
}

/** A container with its own namespace and devices, and an address: what gets a veth. */
export type WiredNode = ContainerNode & { readonly netns: NetnsLocator; readonly hostDev: string; readonly containerDev: string; readonly address: string };

export const isWired = (n: ContainerNode): n is WiredNode => !!n.netns && !!n.hostDev && !!n.containerDev && !!n.address;

/** What a tree keeps from what is already in the kernel: device names, addresses, slots. */
export interface AssignedBefore {
  /** Host-side devices that are not the container's own "sl-<name>", by container (naming.ts hashedDeviceNames): usually none. */
  readonly devNames: ReadonlyMap<string, string>;
  readonly addresses: ReadonlyMap<string, string>;
  /** Slots found by node id (per-device mode: a container's own device's class). */
  readonly slots: ReadonlyMap<string, number>;
  /**
   * Slots found along each IPv4 address's path from the root down (shared mode): the
   * first node it reaches under the link, …, the container itself. The tree reads them
   * with the addresses it parsed: a path of one by `addressSlots`, longer ones (through
   * groups) by `addressPaths`.
   */
  readonly addressSlots: ReadonlyMap<number, number>;
  readonly addressPaths: ReadonlyMap<number, readonly number[]>;
}

export const guaranteeOf = (n: ContainerNode, dir: Direction): BitsPerSec => (dir === 'download' ? n.downloadGuarantee : n.uploadGuarantee);
