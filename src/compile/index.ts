// Policy → desired kernel state. Pure: the same policy, features and observed state
// always give the same objects, so a converged kernel diffs to an empty plan.

import { allocate } from '../allocate/oracle';
import type { ContainerPolicy, HostPolicy, Policy } from '../policy/model';
import {
  DIRECTIONS,
  type ClassObject,
  type Direction,
  type ExternalDevice,
  type FilterObject,
  type HtbClassSpec,
  type KernelState,
  type NamespaceObject,
  type NetnsLocator,
  type SysctlObject,
} from '../tc/model';
import { makeHandle, minorOf, type TcHandle } from '../tc/handle';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { BASELINE_FEATURES, type KernelFeatures } from './features';
import type { CompiledClassRef, CompiledContainer, CompiledPolicy } from './model';
import { ipToInt, parseSubnet } from '../policy/subnet';
import { assignAddresses, assignDeviceNames, assignMinors, isContainerMinor } from './naming';
import { addContainerPlumbing, addDockerDevicePlumbing, hostPlumbing, namespaceObject, prefix6Of, type Plumbing } from './topology';
import { embedIpv4, isIpv6, parseSubnet6 } from '../policy/ipv6';
import { address6Table, addressTable, addSharedTree, emptyAddress6Table, cgroupClassifier, classHandle, deviceTree, emptyTc, ingressRedirect, leafQdiscSpec, type TcObjects } from './trees';
import { HtbClassSpecs, type ClassRates } from './htb';

export type { CompiledPolicy, CompiledContainer, CompiledClassRef } from './model';
export type { KernelFeatures } from './features';

export interface CompileOptions {
  /**
   * What the kernel holds now: keeps assigned addresses and class ids stable. Its
   * revision, if any (ObservedState), lets the memo skip comparing an unchanged one.
   */
  readonly observed?: KernelState & { readonly revision?: string };
  readonly features?: KernelFeatures;
}

const MANAGED_CONTAINER_DEV = 'eth0';
/** In a namespace Sluice did not create, eth0 may already exist. */
const ATTACHED_CONTAINER_DEV = 'sl-eth0';

/** Undefined fields do not apply to the container (no namespace of its own, no address). */
interface Placement {
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
type WiredPlacement = Placement & { readonly netns: NetnsLocator; readonly hostDev: string; readonly containerDev: string; readonly address: string };

const isWired = (p: Placement): p is WiredPlacement => !!p.netns && !!p.hostDev && !!p.containerDev && !!p.address;

/** What a compile reads from the observed state: the addresses and class minors already assigned. */
interface ObservedInputs {
  readonly devNames: ReadonlyMap<string, string>;
  readonly addresses: ReadonlyMap<string, string>;
  readonly minors: ReadonlyMap<string, number>;
}

export function compilePolicy(policy: Policy, options: CompileOptions = {}): CompiledPolicy {
  const features = options.features ?? BASELINE_FEATURES;
  return compileWith(policy, features, observedInputs(policy, options.observed));
}

function observedInputs(policy: Policy, observed: KernelState | undefined): ObservedInputs {
  const devNames = assignDeviceNames(policy.containers.filter(hasOwnNamespace).map((c) => c.name), new Set([policy.host.bridge, policy.host.ifb, 'lo']));
  return { devNames, addresses: observedAddresses(policy, observed), minors: observedMinors(policy, observed, devNames) };
}

/**
 * compilePolicy that remembers its last result and returns it (the same, read-only
 * object) while the policy objects, the features and what the compile reads from the
 * kernel are unchanged: the reconciler compiles the unchanged policy every tick, and the
 * observed state only matters to it when the kernel drifted. One per applier.
 */
export class CompileMemo {
  private last: { readonly policy: Policy; readonly features: KernelFeatures; readonly inputs: ObservedInputs; readonly revision: string | undefined; readonly result: CompiledPolicy } | undefined;

  compile(policy: Policy, options: CompileOptions = {}): CompiledPolicy {
    const features = options.features ?? BASELINE_FEATURES;
    const revision = options.observed?.revision;
    const last = this.last;
    const samePolicy = last !== undefined && last.features === features && last.policy.host === policy.host && last.policy.containers === policy.containers;
    // An observation with the last one's revision holds the same objects: no need to look.
    if (samePolicy && revision !== undefined && last.revision === revision) return last.result;
    const inputs = observedInputs(policy, options.observed);
    if (samePolicy && sameInputs(last.inputs, inputs)) {
      this.last = { ...last, revision };
      return last.result;
    }
    const result = compileWith(policy, features, inputs);
    this.last = { policy, features, inputs, revision, result };
    return result;
  }
}

function sameInputs(a: ObservedInputs, b: ObservedInputs): boolean {
  const sameMap = <V>(x: ReadonlyMap<string, V>, y: ReadonlyMap<string, V>): boolean => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
  return sameMap(a.devNames, b.devNames) && sameMap(a.addresses, b.addresses) && sameMap(a.minors, b.minors);
}

function compileWith(policy: Policy, features: KernelFeatures, inputs: ObservedInputs): CompiledPolicy {
  const notes: string[] = [];
  const placements = place(policy, inputs, notes);
  const plumbing = hostPlumbing(policy.host);
  // "/<prefix>" of every container address, made once: one concatenation per address.
  const prefix = `/${parseSubnet(policy.host.subnet).prefix}`;
  const prefix6 = policy.host.subnet6 ? prefix6Of(policy.host.subnet6) : '';
  // forEach and map rather than for-of in code that runs once per compile: unoptimised,
  // for-of allocates an iterator result per element.
  placements.forEach((p) => addWiring(plumbing, policy.host, p, prefix, prefix6));
  const tc = policy.host.mode === 'shared' ? sharedTrees(policy, placements, features) : perDeviceTrees(policy.host, placements, features);
  const cgroups = placements
    .filter((p) => p.policy.match.kind === 'cgroup')
    .map((p) => ({ type: 'cgroup-classid' as const, cgroup: (p.policy.match as { path: string }).path, classid: p.classid }));
  if (cgroups.length > 0) notes.push('cgroup-matched workloads: packets their sockets send through the bridge or the IFB are classified by net_cls classid (BPF), ahead of the address filters');
  const containers = placements.map((p) => describe(policy, p));
  return {
    state: {
      namespaces: plumbing.namespaces,
      links: plumbing.links,
      addresses: plumbing.addresses,
      routes: plumbing.routes,
      sysctls: plumbing.sysctls,
      qdiscs: tc.qdiscs,
      classes: tc.classes,
      filters: tc.filters,
      cgroups,
    },
    containers,
    notes,
  };
}

function place(policy: Policy, observed: ObservedInputs, notes: string[]): Placement[] {
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

/** What a policy covers, without compiling its trees: enough to know what to observe. */
export interface PolicyFootprint {
  /** Every namespace it puts objects in (host, managed and attached containers). */
  readonly netns: readonly NetnsLocator[];
  /** The namespaces it creates. */
  readonly namespaces: readonly NamespaceObject[];
  readonly sysctls: readonly SysctlObject[];
  /** Devices it shapes but does not own (a Docker bridge): never deleted, their addresses left alone. */
  readonly external: readonly ExternalDevice[];
}

export function policyFootprint(policy: Policy): PolicyFootprint {
  const host = hostPlumbing(policy.host);
  const own = policy.containers.filter(hasOwnNamespace);
  const managed = own.filter((c) => c.match.kind === 'managed').map((c): NamespaceObject => namespaceObject(policy.host, containerNetns(c)));
  const dockerDevices = policy.containers.flatMap((c) => (c.docker?.device ? [{ netns: c.docker.netns, dev: c.docker.device }] : []));
  const external = [...host.links.filter((l) => l.spec.kind === 'external' && l.name !== 'lo').map((l) => ({ netns: l.netns, dev: l.name })), ...dockerDevices];
  return { netns: [policy.host.netns, ...own.map(containerNetns), ...dockerDevices.map((d) => d.netns)], namespaces: [...host.namespaces, ...managed], sysctls: host.sysctls, external };
}

const hasOwnNamespace = (c: ContainerPolicy): boolean => c.match.kind === 'managed' || c.match.kind === 'netns-path' || c.match.kind === 'pid';

function containerNetns(c: ContainerPolicy): NetnsLocator {
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

/** Adds the container's devices, address and route to `into` (one list per kind for all containers). */
function addWiring(into: Plumbing, host: HostPolicy, p: Placement, prefix: string, prefix6: string): void {
  const docker = p.policy.docker;
  if (docker?.device) return addDockerDevicePlumbing(into, docker.netns, docker.device);
  // The placement itself is the wiring: no object per container to say the same.
  if (isWired(p)) addContainerPlumbing(into, host, p, prefix, prefix6);
}

const guaranteeOf = (p: Placement, dir: Direction): BitsPerSec => (dir === 'download' ? p.downloadGuarantee : p.uploadGuarantee);

function ratesOf(p: Placement, dir: Direction): ClassRates {
  const b = p.policy.bandwidth[dir];
  return { rate: guaranteeOf(p, dir), ceil: b.ceiling, prio: b.priority, burst: b.burst };
}

/**
 * Each container's class spec in the `dir` tree, equal ones shared. Named reads, not
 * p.policy.bandwidth[dir]: V8 optimised the keyed reads for 'download' and threw that
 * code away when the upload tree asked for 'upload'.
 */
function treeSpecs(placements: readonly Placement[], dir: Direction, capacity: BitsPerSec): HtbClassSpec[] {
  const specs = new HtbClassSpecs(capacity);
  const out = new Array<HtbClassSpec>(placements.length);
  if (dir === 'download') {
    for (let i = 0; i < placements.length; i++) {
      const p = placements[i]!;
      const b = p.policy.bandwidth.download;
      out[i] = specs.ofRates(p.downloadGuarantee, b.ceiling, b.priority, b.burst);
    }
  } else {
    for (let i = 0; i < placements.length; i++) {
      const p = placements[i]!;
      const b = p.policy.bandwidth.upload;
      out[i] = specs.ofRates(p.uploadGuarantee, b.ceiling, b.priority, b.burst);
    }
  }
  return out;
}

/** A cgroup's packets come from the host, whatever address it was given: classified by classid. */
const isClassifiedByAddress = (p: Placement): p is Placement & { readonly address: string } => p.address !== undefined && p.policy.match.kind !== 'cgroup';

function sharedTrees(policy: Policy, placements: readonly Placement[], features: KernelFeatures): TcObjects {
  const host = policy.host;
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const bridge = { netns: host.netns, dev: host.bridge };
  const ifb = { netns: host.netns, dev: host.ifb };
  const classids = new Array<TcHandle>(placements.length);
  const leaves = new Array<TcHandle>(placements.length);
  const byAddress: (Placement & { readonly address: string })[] = [];
  const byAddress6: (Placement & { readonly address6: string })[] = [];
  let cgroups = false;
  // One pass for what both trees need of every container.
  for (let i = 0; i < placements.length; i++) {
    const p = placements[i]!;
    classids[i] = p.classid;
    leaves[i] = makeHandle(p.minor, 0);
    if (isClassifiedByAddress(p)) byAddress.push(p);
    else if (p.policy.match.kind === 'cgroup') cgroups = true;
    if (p.address6 !== undefined && p.policy.match.kind !== 'cgroup') byAddress6.push(p as Placement & { readonly address6: string });
  }
  const addresses = addressTable(byAddress);
  const addresses6 = byAddress6.length === 0 ? emptyAddress6Table : address6Table(byAddress6);
  // Built before the trees though listed between them: its handles (ffff:, 800::800) are
  // above 2^31, not small integers to V8. Built after the 20,000 address filters, whose
  // handle and parent fields had held only small integers, it made V8 widen those fields
  // and deprecate the filters' hidden class; each filter was then migrated on its first
  // read (1–2 µs each, ~40 ms of the first diff at 10,000 containers).
  const redirect = ingressRedirect(bridge, host.ifb);
  // Both trees and the redirect go straight into one set of lists, in the order
  // download tree, redirect (and cgroup classifier), upload tree.
  const tc = emptyTc();
  addSharedTree(tc, bridge, 'download', host.capacity.download, host.subnet, { classids, leaves, specs: treeSpecs(placements, 'download', host.capacity.download) }, addresses, addresses6, leafSpec);
  appendAll(tc.qdiscs, redirect.qdiscs);
  appendAll(tc.filters, redirect.filters);
  // Host-network workloads send into the bridge (towards containers) or through the IFB;
  // the classifier runs first on both, and lets everything without a classid through.
  if (features.clsBpf && cgroups) tc.filters.push(cgroupClassifier(bridge), cgroupClassifier(ifb));
  addSharedTree(tc, ifb, 'upload', host.capacity.upload, host.subnet, { classids, leaves, specs: treeSpecs(placements, 'upload', host.capacity.upload) }, addresses, addresses6, leafSpec);
  return tc;
}

function appendAll<T>(out: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) out.push(items[i]!);
}

function perDeviceTrees(host: HostPolicy, placements: readonly Placement[], features: KernelFeatures): TcObjects {
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const trees = placements.flatMap((p) => {
    if (!p.netns || !p.hostDev || !p.containerDev) return [];
    return [
      deviceTree({ netns: host.netns, dev: p.hostDev }, p.minor, ratesOf(p, 'download'), host.capacity.download, leafSpec),
      deviceTree({ netns: p.netns, dev: p.containerDev }, p.minor, ratesOf(p, 'upload'), host.capacity.upload, leafSpec),
    ];
  });
  return { qdiscs: trees.flatMap((t) => t.qdiscs), classes: trees.flatMap((t) => t.classes), filters: trees.flatMap((t) => t.filters) };
}

function describe(policy: Policy, p: Placement): CompiledContainer {
  const classes = describeClasses(classRef(policy, p, 'download'), classRef(policy, p, 'upload'));
  const match = p.policy.match;
  const cgroup = match.kind === 'cgroup' ? match.path : undefined;
  const docker = p.policy.docker;
  // Two literals rather than a conditional spread of `docker` (see place).
  if (docker) return { name: p.policy.name, matchKind: match.kind, classes, source: p.policy.source, netns: p.netns, address: p.address, address6: p.address6, hostDev: p.hostDev, containerDev: p.containerDev, cgroup, docker };
  return { name: p.policy.name, matchKind: match.kind, classes, source: p.policy.source, netns: p.netns, address: p.address, address6: p.address6, hostDev: p.hostDev, containerDev: p.containerDev, cgroup };
}

/**
 * The classes record with only the directions that have a class, as literals: a record
 * filled by a computed key per direction, a for-of over the directions and a location
 * object per direction made describing 10,000 containers allocate 4 MB, now 2.5 MB.
 */
function describeClasses(download: CompiledClassRef | undefined, upload: CompiledClassRef | undefined): Partial<Record<Direction, CompiledClassRef>> {
  if (download && upload) return { download, upload };
  if (download) return { download };
  if (upload) return { upload };
  return {};
}

function classRef(policy: Policy, p: Placement, dir: Direction): CompiledClassRef | undefined {
  const host = policy.host;
  let netns: NetnsLocator;
  let dev: string;
  if (host.mode === 'per-device') {
    if (!p.netns || !p.hostDev || !p.containerDev) return undefined;
    netns = dir === 'download' ? host.netns : p.netns;
    dev = dir === 'download' ? p.hostDev : p.containerDev;
  } else {
    netns = host.netns;
    dev = dir === 'download' ? host.bridge : host.ifb;
  }
  const b = p.policy.bandwidth[dir];
  return { netns, dev, classid: p.classid, guarantee: guaranteeOf(p, dir), ceiling: b.ceiling, priority: b.priority };
}
