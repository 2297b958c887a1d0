// What a compile reads from the observed kernel state: the addresses and class minors
// already assigned, so a recompile keeps them. Pure.

import type { Policy } from '../policy/model';
import type { ClassObject, FilterObject, KernelState, NetnsLocator } from '../tc/model';
import { minorOf, type TcHandle } from '../tc/handle';
import { ipToInt } from '../net/ipv4';
import { isIpv6 } from '../net/ipv6';
import { assignDeviceNames, isContainerMinor } from './naming';
import { hasOwnNamespace, containerNetns } from './placement';
import type { ObservedInputs } from './model';

export function observedInputs(policy: Policy, observed: KernelState | undefined): ObservedInputs {
  const devNames = assignDeviceNames(policy.containers.filter(hasOwnNamespace).map((c) => c.name), new Set([policy.host.bridge, policy.host.ifb, 'lo']));
  return { devNames, addresses: observedAddresses(policy, observed), minors: observedMinors(policy, observed, devNames) };
}

export function sameInputs(a: ObservedInputs, b: ObservedInputs): boolean {
  const sameMap = <V>(x: ReadonlyMap<string, V>, y: ReadonlyMap<string, V>): boolean => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
  return sameMap(a.devNames, b.devNames) && sameMap(a.addresses, b.addresses) && sameMap(a.minors, b.minors);
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

/** Class minors containers already have: from their address filter or their own device. */
function observedMinors(policy: Policy, observed: KernelState | undefined, devNames: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!observed) return out;
  // Only a per-device host has a class per container device.
  const classOnDevice = policy.host.mode === 'per-device' ? containerClassesByDevice(policy.host.netns, observed.classes) : undefined;
  const classOfAddress = classesByAddress(policy.host.bridge, observed.filters);
  const containers = policy.containers;
  // Indexed loops here and below: a re-apply reads 20,000 classes and filters, mostly
  // before V8 optimises this, where for-of allocates an iterator result per element.
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    const dev = classOnDevice ? devNames.get(c.name) : undefined;
    const classid = (classOnDevice && dev ? classOnDevice.get(dev) : undefined) ?? (c.address ? classOfAddress.get(ipToInt(c.address)) : undefined);
    if (classid !== undefined) out.set(c.name, minorOf(classid));
  }
  return out;
}

/** The container's own class on each device in `netns`, not the device's root or default class (the last one listed wins). */
function containerClassesByDevice(netns: NetnsLocator, classes: readonly ClassObject[]): Map<string, TcHandle> {
  const out = new Map<string, TcHandle>();
  for (let i = 0; i < classes.length; i++) {
    const k = classes[i]!;
    if (k.netns === netns && isContainerMinor(minorOf(k.classid))) out.set(k.dev, k.classid);
  }
  return out;
}

/**
 * The class of each IPv4 address the bridge's u32 filters match whole (the last one
 * listed wins): entries of one key (an IPv6 entry has four, one per word).
 */
function classesByAddress(bridge: string, filters: readonly FilterObject[]): Map<number, TcHandle> {
  const out = new Map<number, TcHandle>();
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    if (f.dev !== bridge || f.spec.kind !== 'u32' || f.spec.classid === undefined) continue;
    const keys = f.spec.keys;
    if (keys.length === 1 && keys[0]!.mask === 0xffffffff) out.set(keys[0]!.value, f.spec.classid);
  }
  return out;
}
