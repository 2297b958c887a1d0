// What a compile reads from the observed kernel state: the addresses and slots already
// assigned, so a recompile keeps them. Pure.

import type { Policy } from '../policy/model';
import type { ClassObject, FilterObject, KernelState, NetnsLocator } from '../tc/model';
import { majorOf, minorOf, type TcHandle } from '../tc/handle';
import { ipToInt } from '../net/ipv4';
import { isIpv6 } from '../net/ipv6';
import { assignDeviceNames, isSlot } from '../shape/naming';
import { containerNetns, hasOwnNamespace } from '../shape/namespaces';
import type { AssignedBefore } from '../shape/model';
import { ROOT_MAJOR } from './trees';

export function observedInputs(policy: Policy, observed: KernelState | undefined): AssignedBefore {
  const devNames = assignDeviceNames(policy.containers.filter(hasOwnNamespace).map((c) => c.name), new Set([policy.host.bridge, policy.host.ifb, 'lo']));
  return { devNames, addresses: observedAddresses(policy, observed), slots: observedSlots(policy, observed, devNames) };
}

export function sameInputs(a: AssignedBefore, b: AssignedBefore): boolean {
  const sameMap = <V>(x: ReadonlyMap<string, V>, y: ReadonlyMap<string, V>): boolean => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
  return sameMap(a.devNames, b.devNames) && sameMap(a.addresses, b.addresses) && sameMap(a.slots, b.slots);
}

/** Addresses containers already carry inside their namespaces (for IPAM stability). */
function observedAddresses(policy: Policy, observed: KernelState | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!observed) return out;
  // Indexed loops and no [netns, address] pair or split array per address: a re-apply
  // reads 10,000 of them, mostly before V8 optimises this.
  const byNetns = new Map<NetnsLocator, string>();
  const addresses = observed.addresses;
  // IPv4 only: a dual-stack container's IPv6 address is derived from it, not assigned.
  for (let i = 0; i < addresses.length; i++) if (!isIpv6(addresses[i]!.cidr)) byNetns.set(addresses[i]!.netns, addressOf(addresses[i]!.cidr));
  const containers = policy.containers;
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    if (!hasOwnNamespace(c)) continue;
    const addr = byNetns.get(containerNetns(c));
    if (addr) out.set(c.name, addr);
  }
  return out;
}

/** "198.18.0.2/16" → "198.18.0.2" (cidr.split('/')[0], without the array). */
function addressOf(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/**
 * Slots containers and groups already have: a container's from its own device's class
 * (per-device) or from the bridge's address filters, followed from the root qdisc down
 * through each group's HTB (each level's filter names the class of the next: a group's
 * slot is its HTB's major); a group's from the chain of one of its members.
 */
function observedSlots(policy: Policy, observed: KernelState | undefined, devNames: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!observed) return out;
  // Only a per-device host has a class per container device.
  const classOnDevice = policy.host.mode === 'per-device' ? containerClassesByDevice(policy.host.netns, observed.classes) : undefined;
  const byQdisc = classesByAddress(policy.host.bridge, observed.filters);
  const rootClasses = byQdisc.get(ROOT_MAJOR);
  const parents = policy.groups.length === 0 ? undefined : new Map(policy.groups.map((g) => [g.name, g.parent]));
  const containers = policy.containers;
  // Indexed loops here and below: a re-apply reads 20,000 classes and filters, mostly
  // before V8 optimises this, where for-of allocates an iterator result per element.
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    const dev = classOnDevice ? devNames.get(c.name) : undefined;
    const own = classOnDevice && dev ? classOnDevice.get(dev) : undefined;
    if (own !== undefined) {
      out.set(c.name, minorOf(own));
      continue;
    }
    if (!c.address) continue;
    const ip = ipToInt(c.address);
    // Without groups a container's chain is its root class alone: no array per container.
    const top = rootClasses?.get(ip);
    if (top === undefined) continue;
    if (!byQdisc.has(minorOf(top))) {
      out.set(c.name, minorOf(top));
      continue;
    }
    const chain = chainOf(byQdisc, ip);
    out.set(c.name, chain[chain.length - 1]!);
    // The groups above it, top first, where the chain is as deep as they are.
    if (parents === undefined || c.group === undefined) continue;
    const groups: string[] = [];
    for (let g: string | undefined = c.group; g !== undefined && groups.length <= chain.length; g = parents.get(g)) groups.unshift(g);
    if (groups.length !== chain.length - 1) continue;
    for (let k = 0; k < groups.length; k++) if (!out.has(groups[k]!)) out.set(groups[k]!, chain[k]!);
  }
  return out;
}

/** The minors an address's filters lead through, from the root qdisc down (at most a few levels). */
function chainOf(byQdisc: ReadonlyMap<number, ReadonlyMap<number, TcHandle>>, ip: number): number[] {
  const chain: number[] = [];
  for (let major = ROOT_MAJOR; chain.length <= MAX_CHAIN; ) {
    const classid = byQdisc.get(major)?.get(ip);
    if (classid === undefined) break;
    major = minorOf(classid);
    chain.push(major);
  }
  return chain;
}

/** Deeper than any policy nests (MAX_GROUP_LEVELS): a loop in what was observed stops here. */
const MAX_CHAIN = 8;

/** The container's own class on each device in `netns`, not the device's root or default class (the last one listed wins). */
function containerClassesByDevice(netns: NetnsLocator, classes: readonly ClassObject[]): Map<string, TcHandle> {
  const out = new Map<string, TcHandle>();
  for (let i = 0; i < classes.length; i++) {
    const k = classes[i]!;
    if (k.netns === netns && isSlot(minorOf(k.classid))) out.set(k.dev, k.classid);
  }
  return out;
}

/**
 * Per qdisc on the bridge (by handle major), the class of each IPv4 address its u32
 * filters match whole (the last one listed wins): entries of one key (an IPv6 entry has
 * four, one per word).
 */
function classesByAddress(bridge: string, filters: readonly FilterObject[]): Map<number, Map<number, TcHandle>> {
  const out = new Map<number, Map<number, TcHandle>>();
  let major = -1;
  let current: Map<number, TcHandle> | undefined;
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    if (f.dev !== bridge || f.spec.kind !== 'u32' || f.spec.classid === undefined) continue;
    const keys = f.spec.keys;
    if (keys.length !== 1 || keys[0]!.mask !== 0xffffffff) continue;
    // A qdisc's filters come one after another: one map lookup per run, not per filter.
    const parent = majorOf(f.parent);
    if (parent !== major) {
      major = parent;
      current = out.get(major);
      if (current === undefined) out.set(major, (current = new Map()));
    }
    current!.set(keys[0]!.value, f.spec.classid);
  }
  return out;
}
