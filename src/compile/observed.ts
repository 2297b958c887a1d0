// What a compile reads from the observed kernel state: the addresses and slots already
// assigned, so a recompile keeps them. Pure.

import type { Policy } from '../policy/model';
import type { ClassObject, FilterObject, KernelState, NetnsLocator } from '../tc/model';
import { majorOf, minorOf, TC_H_ROOT, type TcHandle } from '../tc/handle';
import { isIpv6 } from '../net/ipv6';
import { hashedDeviceNames, hostDevice, isSlot, ownDeviceFree } from '../shape/naming';
import { containerNetns, hasOwnNamespace } from '../shape/namespaces';
import type { AssignedBefore } from '../shape/model';
import { ROOT_MAJOR } from './trees';

export function observedInputs(policy: Policy, observed: KernelState | undefined): AssignedBefore {
  const devNames = deviceExceptions(policy);
  const lookups = observed === undefined ? undefined : kept.get(observed);
  const bridge = policy.host.bridge;
  const byAddress = policy.host.mode === 'per-device' ? { slots: new Map<number, number>(), paths: new Map<number, number[]>() } : lookups?.bridge === bridge ? lookups.paths : addressPaths(bridge, observed);
  const addresses = observed === undefined ? undefined : (lookups?.addresses ?? addressesByNetns(observed));
  return { devNames, addresses: observedAddresses(policy, addresses), slots: deviceSlots(policy, observed, devNames), addressSlots: byAddress.slots, addressPaths: byAddress.paths };
}

/** What a compile reads of one state whatever the containers are: kept per state by keepObservedLookups. */
interface StateLookups {
  /** Each namespace's IPv4 address (observedAddresses). */
  readonly addresses: ReadonlyMap<NetnsLocator, string>;
  /** The bridge `paths` was read on. */
  readonly bridge: string;
  readonly paths: AddressPaths;
}

/** Lookups of the states serve compiles changes against, as long as each state is alive. */
const kept = new WeakMap<KernelState, StateLookups>();

/**
 * Builds, once, what compiles against `state` as observed read of it, and keeps it as
 * long as the state is alive: serve compiles change after change against the state the
 * last one left (Applier.applyChange), and reading its 10,000 addresses and filters
 * again was ~25 ms of each at 10,000 containers in 100 groups. The states are immutable
 * values; a state observed from the kernel is new every tick, so only the applied base
 * is kept, and other compiles read theirs as before (and drop it).
 */
export function keepObservedLookups(state: KernelState, bridge: string): void {
  const held = kept.get(state);
  if (held?.bridge === bridge) return;
  kept.set(state, { addresses: held?.addresses ?? addressesByNetns(state), bridge, paths: addressPaths(bridge, state) });
}

/**
 * The containers' host-side devices that are not their own "sl-<name>": none, without
 * listing the names (0.3 MB of arrays), when every own one is free.
 */
function deviceExceptions(policy: Policy): Map<string, string> {
  const reserved = [policy.host.bridge, policy.host.ifb, 'lo'];
  const containers = policy.containers;
  if (containers.every((c) => !hasOwnNamespace(c) || ownDeviceFree(c.name, reserved))) return new Map();
  return hashedDeviceNames(containers.filter(hasOwnNamespace).map((c) => c.name), reserved);
}

export function sameInputs(a: AssignedBefore, b: AssignedBefore): boolean {
  const sameMap = <K, V>(x: ReadonlyMap<K, V>, y: ReadonlyMap<K, V>, same: (v: V, w: V | undefined) => boolean = (v, w) => v === w): boolean => x.size === y.size && [...x].every(([k, v]) => same(v, y.get(k)));
  const samePath = (p: readonly number[], q: readonly number[] | undefined): boolean => q !== undefined && p.length === q.length && p.every((n, i) => n === q[i]);
  return sameMap(a.devNames, b.devNames) && sameMap(a.addresses, b.addresses) && sameMap(a.slots, b.slots) && sameMap(a.addressSlots, b.addressSlots) && sameMap(a.addressPaths, b.addressPaths, samePath);
}

/** Addresses containers already carry inside their namespaces (for IPAM stability), from the observed ones by namespace. */
function observedAddresses(policy: Policy, byNetns: ReadonlyMap<NetnsLocator, string> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!byNetns) return out;
  const containers = policy.containers;
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    if (!hasOwnNamespace(c)) continue;
    const addr = byNetns.get(containerNetns(c));
    if (addr) out.set(c.name, addr);
  }
  return out;
}

/** Each namespace's IPv4 address in `observed` (the last one listed wins). */
function addressesByNetns(observed: KernelState): Map<NetnsLocator, string> {
  // Indexed loops and no [netns, address] pair or split array per address: a re-apply
  // reads 10,000 of them, mostly before V8 optimises this.
  const byNetns = new Map<NetnsLocator, string>();
  const addresses = observed.addresses;
  // IPv4 only: a dual-stack container's IPv6 address is derived from it, not assigned.
  for (let i = 0; i < addresses.length; i++) if (!isIpv6(addresses[i]!.cidr)) byNetns.set(addresses[i]!.netns, addressOf(addresses[i]!.cidr));
  return byNetns;
}

/** "198.18.0.2/16" → "198.18.0.2" (cidr.split('/')[0], without the array). */
function addressOf(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/** Slots per-device containers already have: their own device's class. */
function deviceSlots(policy: Policy, observed: KernelState | undefined, devNames: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!observed || policy.host.mode !== 'per-device') return out;
  const classOnDevice = containerClassesByDevice(policy.host.netns, observed.classes);
  for (const c of policy.containers) {
    const own = hasOwnNamespace(c) ? classOnDevice.get(hostDevice(devNames, c.name)) : undefined;
    if (own !== undefined) out.set(c.name, minorOf(own));
  }
  return out;
}

/** Slots by address: paths of one apart (`slots`), longer ones through groups (`paths`). */
interface AddressPaths {
  readonly slots: ReadonlyMap<number, number>;
  readonly paths: ReadonlyMap<number, readonly number[]>;
}

/**
 * The slots along each IPv4 address's path on the bridge, from the root HTB down: each
 * HTB's filter for the address names a class, whose minor is the next HTB's major (a
 * group's) or the container's own slot. Paths of one (no groups) apart, without an
 * array each.
 */
function addressPaths(bridge: string, observed: KernelState | undefined): AddressPaths {
  const slots = new Map<number, number>();
  const paths = new Map<number, number[]>();
  if (!observed) return { slots, paths };
  const byQdisc = classesByAddress(bridge, observed.filters);
  const root = byQdisc.get(ROOT_MAJOR);
  if (root === undefined) return { slots, paths };
  // A group's HTB on the bridge: a path that stops at one is incomplete (its filter for
  // the address is missing), and its last slot the group's, not the container's.
  const groupHtbs = new Set(observed.qdiscs.filter((q) => q.dev === bridge && q.spec.kind === 'htb' && q.parent !== TC_H_ROOT).map((q) => majorOf(q.handle)));
  for (const [ip, classid] of root) {
    const first = minorOf(classid);
    if (!byQdisc.has(first) && !groupHtbs.has(first)) slots.set(ip, first);
    else {
      const path = chainOf(byQdisc, ip);
      if (!groupHtbs.has(path[path.length - 1]!)) paths.set(ip, path);
    }
  }
  return { slots, paths };
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
