// Where each container goes: its namespace and devices, its address, its class minor,
// and its guarantees after overcommit scaling. Pure.

import type { ContainerPolicy, HostPolicy, Policy } from '../policy/model';
import { DIRECTIONS, type Direction, type NetnsLocator } from '../tc/model';
import type { TcHandle } from '../tc/handle';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { allocate } from '../allocate/oracle';
import { assignAddresses, assignMinors } from './naming';
import { embedIpv4, parseSubnet6 } from '../net/ipv6';
import { ipToInt } from '../net/ipv4';
import { classHandle } from './trees';
import type { ObservedInputs } from './model';

const MANAGED_CONTAINER_DEV = 'eth0';
/** In a namespace Sluice did not create, eth0 may already exist. */
const ATTACHED_CONTAINER_DEV = 'sl-eth0';

/** Undefined fields do not apply to the container (no namespace of its own, no address). */
export interface Placement {
  readonly policy: ContainerPolicy;
  readonly netns: NetnsLocator | undefined;
  readonly managed: boolean;
  readonly hostDev: string | undefined;
  readonly containerDev: string | undefined;
  readonly address: string | undefined;
  /** Dual-stack: classified into the same class as `address`. */
  readonly address6: string | undefined;
  readonly minor: number;
  /** classHandle(minor), made once: the same in both trees, the filters and the description. */
  readonly classid: TcHandle;
  /** Guarantees after overcommit scaling, as fields: no object per container. */
  readonly downloadGuarantee: BitsPerSec;
  readonly uploadGuarantee: BitsPerSec;
}

/** A placement with its own namespace and devices, and an address: what gets a veth. */
export type WiredPlacement = Placement & { readonly netns: NetnsLocator; readonly hostDev: string; readonly containerDev: string; readonly address: string };

export const isWired = (p: Placement): p is WiredPlacement => !!p.netns && !!p.hostDev && !!p.containerDev && !!p.address;

export function place(policy: Policy, observed: ObservedInputs, notes: string[]): Placement[] {
  const host = policy.host;
  const containers = policy.containers;
  const devNames = observed.devNames;
  const needing: string[] = [];
  containers.forEach((c) => {
    if (!c.address && hasOwnNamespace(c)) needing.push(c.name);
  });
  // The addresses already taken matter only to containers that need one: usually none.
  const addresses = needing.length === 0 ? new Map<string, string>() : assignAddresses(host.subnet, needing, fixedAddresses(host, containers), observed.addresses);
  for (const name of needing) if (!addresses.has(name)) notes.push(`no free address left in ${host.subnet} for ${name}`);
  const minors = assignMinors(containers.map((c) => c.name), observed.minors);
  const scaled = effectiveGuarantees(policy, notes);
  const subnet6 = host.subnet6 ? parseSubnet6(host.subnet6) : undefined;
  // Plain literals with undefined for what does not apply: a conditional spread per
  // container costs microseconds each on Node 20 (docs/decisions.md, session 3).
  return containers.map((c): Placement => {
    const own = hasOwnNamespace(c);
    // Without overcommit (the usual case) no map by name: each container's own.
    const guarantees = scaled?.get(c.name);
    const minor = minors.get(c.name)!;
    const address = (c.address ?? addresses.get(c.name)) || undefined;
    return {
      policy: c,
      managed: c.match.kind === 'managed',
      minor,
      classid: classHandle(minor),
      downloadGuarantee: guarantees ? guarantees.download : c.bandwidth.download.guarantee,
      uploadGuarantee: guarantees ? guarantees.upload : c.bandwidth.upload.guarantee,
      netns: own ? containerNetns(c) : undefined,
      hostDev: own ? devNames.get(c.name)! : undefined,
      containerDev: own ? (c.match.kind === 'managed' ? MANAGED_CONTAINER_DEV : ATTACHED_CONTAINER_DEV) : undefined,
      address,
      address6: c.address6 ?? (subnet6 && address && c.match.kind === 'managed' ? embedIpv4(subnet6, ipToInt(address)) : undefined),
    };
  });
}

/** The gateway's and the containers' own addresses. */
function fixedAddresses(host: HostPolicy, containers: readonly ContainerPolicy[]): Set<string> {
  const fixed = new Set<string>([host.gateway]);
  containers.forEach((c) => {
    if (c.address) fixed.add(c.address);
  });
  return fixed;
}

export const hasOwnNamespace = (c: ContainerPolicy): boolean => c.match.kind === 'managed' || c.match.kind === 'netns-path' || c.match.kind === 'pid';

/** A Linux bridge's ports (BR_MAX_PORTS is 1,024 with port 0 reserved): the 1,024th fails with EXFULL. */
export const BRIDGE_MAX_PORTS = 1023;

/** The ports the policy needs on the bridge Sluice owns: a veth for each container in a namespace of its own. */
export function bridgePortsNeeded(policy: Policy): number {
  if (policy.host.external) return 0;
  let ports = 0;
  for (const c of policy.containers) if (hasOwnNamespace(c)) ports++;
  return ports;
}

export function containerNetns(c: ContainerPolicy): NetnsLocator {
  switch (c.match.kind) {
    case 'managed':
      return c.match.netns;
    case 'netns-path':
      return c.match.path;
    case 'pid':
      return `/proc/${c.match.pid}/ns/net`;
    default:
      throw new Error(`container ${c.name} has no namespace of its own`);
  }
}

/**
 * With overcommit: scale-by-priority, guarantees that do not fit are met highest
 * priority first and the priority where the link runs out is scaled proportionally;
 * that is the oracle with every container demanding exactly its guarantee. Undefined
 * when every guarantee fits.
 */
function effectiveGuarantees(policy: Policy, notes: string[]): Map<string, Record<Direction, BitsPerSec>> | undefined {
  let out: Map<string, Record<Direction, BitsPerSec>> | undefined;
  for (const dir of DIRECTIONS) {
    const capacity = policy.host.capacity[dir];
    const total = totalGuarantee(policy.containers, dir);
    if (total <= capacity) continue;
    out ??= new Map(policy.containers.map((c) => [c.name, ownGuarantees(c)]));
    const scaled = allocate(capacity, policy.containers.map((c) => ({ id: c.name, guarantee: c.bandwidth[dir].guarantee, ceiling: c.bandwidth[dir].guarantee, priority: c.bandwidth[dir].priority, demand: c.bandwidth[dir].guarantee })));
    for (const [name, g] of scaled) out.get(name)![dir] = bitsPerSec(Math.floor(g));
    notes.push(`${dir} guarantees add up to ${total} bit/s, above the link's ${capacity}: scaled by priority`);
  }
  return out;
}

const ownGuarantees = (c: ContainerPolicy): Record<Direction, BitsPerSec> => ({ download: c.bandwidth.download.guarantee, upload: c.bandwidth.upload.guarantee });

function totalGuarantee(containers: readonly ContainerPolicy[], dir: Direction): number {
  let total = 0;
  for (let i = 0; i < containers.length; i++) total += containers[i]!.bandwidth[dir].guarantee;
  return total;
}

export const guaranteeOf = (p: Placement, dir: Direction): BitsPerSec => (dir === 'download' ? p.downloadGuarantee : p.uploadGuarantee);
