// Namespaces, devices, addresses and routes: the plumbing that carries traffic before
// any shaping. Pure.

import type { HostPolicy } from '../policy/model';
import { parseSubnet } from '../net/ipv4';
import type { ResolvedWorkload } from '../workload/workload';
import { isWired, type ContainerNode, type WiredNode } from '../shape/model';
import { SizedList } from './sizedList';
import {
  HOST_NETNS,
  OWNED_PREFIX,
  type AddressObject,
  type LinkObject,
  type LinkSpec,
  type NamespaceObject,
  type NetnsLocator,
  type RouteObject,
  type SysctlObject,
} from '../tc/model';

export interface Plumbing {
  namespaces: NamespaceObject[];
  links: LinkObject[];
  addresses: AddressObject[];
  routes: RouteObject[];
  sysctls: SysctlObject[];
}

/**
 * The link-local address of a device that forwards IPv6 (the bridge): the kernel sends a
 * neighbour solicitation for a packet it forwards only from a link-local address of the
 * outgoing device, and devices in the namespaces Sluice creates get none of their own
 * (no autoconfiguration). Assigned, like every address Sluice adds, without DAD.
 */
export const ROUTER_LINK_LOCAL6 = 'fe80::1/64';

/** The IPv6 default route's dst: not "default", which is IPv4's (a route's identity is its dst). */
export const DEFAULT_ROUTE6 = '::/0';

export const emptyPlumbing = (): Plumbing => ({ namespaces: [], links: [], addresses: [], routes: [], sysctls: [] });

/** A namespace Sluice creates: a bare `sl-` name (paths and the host are never created). */
export const isOwnedNamespaceName = (ns: NetnsLocator): boolean => ns !== HOST_NETNS && !ns.startsWith('/') && ns.startsWith(OWNED_PREFIX);

export function hostPlumbing(host: HostPolicy): Plumbing {
  if (host.external) return externalHostPlumbing(host);
  const p = emptyPlumbing();
  const ns = host.netns;
  if (isOwnedNamespaceName(ns)) {
    p.namespaces.push(namespaceObject(host, ns));
    p.links.push(loopback(ns));
    // Forwarding lets traffic from outside the bridge (a routed peer) reach containers;
    // only in a sandbox namespace, never flipped on the real host behind its back.
    p.sysctls.push({ type: 'sysctl', netns: ns, key: 'net.ipv4.ip_forward', value: '1' });
    if (host.subnet6) p.sysctls.push({ type: 'sysctl', netns: ns, key: 'net.ipv6.conf.all.forwarding', value: '1' });
  }
  p.links.push({ type: 'link', netns: ns, name: host.bridge, up: true, spec: { kind: 'bridge' } });
  if (routesBetweenPorts(host)) p.sysctls.push(...bridgeRoutingSysctls(ns, host.bridge, isOwnedNamespaceName(ns)));
  p.links.push({ type: 'link', netns: ns, name: host.ifb, up: true, spec: { kind: 'ifb' } });
  p.addresses.push({ type: 'address', netns: ns, dev: host.bridge, cidr: `${host.gateway}/${parseSubnet(host.subnet).prefix}` });
  if (host.subnet6 && host.gateway6) {
    p.addresses.push({ type: 'address', netns: ns, dev: host.bridge, cidr: host.gateway6 + prefix6Of(host.subnet6) });
    p.addresses.push({ type: 'address', netns: ns, dev: host.bridge, cidr: ROUTER_LINK_LOCAL6 });
  }
  return p;
}

/**
 * Whether the containers' ports on the bridge are isolated, so that traffic between two
 * of them is routed through the bridge device: out of the IFB (the sender's upload class)
 * and the bridge's egress (the receiver's download class), instead of switched port to
 * port past both trees (docs/decisions.md, "Traffic between two containers on the same
 * bridge"). Only on a bridge Sluice creates (never a runtime's), in shared mode (per-device
 * mode shapes each veth, which such traffic passes anyway), and IPv4-only: an isolated
 * port's IPv6 neighbour solicitations reach no other container, and the bridge would
 * answer them only with a proxy entry per address, which Sluice does not make yet.
 * Where ports stay switched in shared mode, each port is hooked instead (ports.ts).
 */
export const routesBetweenPorts = (host: HostPolicy): boolean => !host.external && host.mode === 'shared' && !host.subnet6;

/**
 * The bridge's per-device settings that route between its isolated ports: it forwards
 * (per device: set on the real host too, where ip_forward stays as it is), answers ARP
 * for the other containers at once (proxy ARP back onto the port it came from, which is
 * proxy_arp_pvlan, with no delay), and sends no ICMP redirects (a container's route to
 * another is on-link, so it would ignore them; they are noise). All of them live and
 * die with the bridge: deleting it removes them. In a namespace Sluice owns, redirects
 * are off for all devices as well: the kernel sends them when either the device's or
 * `all`'s setting says so.
 */
function bridgeRoutingSysctls(ns: NetnsLocator, bridge: string, ownedNetns: boolean): SysctlObject[] {
  const key = (family: string, leaf: string): string => `net.ipv4.${family}.${bridge.replaceAll('.', '/')}.${leaf}`;
  const on = (k: string, value: string): SysctlObject => ({ type: 'sysctl', netns: ns, key: k, value });
  return [
    on(key('conf', 'forwarding'), '1'),
    on(key('conf', 'proxy_arp'), '1'),
    on(key('conf', 'proxy_arp_pvlan'), '1'),
    on(key('conf', 'send_redirects'), '0'),
    on(key('neigh', 'proxy_delay'), '0'),
    ...(ownedNetns ? [on('net.ipv4.conf.all.send_redirects', '0')] : []),
  ];
}

/**
 * An external bridge: the namespace and the bridge (with its address) are a workload
 * runtime's (Docker, a CNI plugin). Sluice adds only its IFB, and shapes the bridge
 * without owning it: its GSO and GRO sizes and offloads stay as the runtime set them.
 * A GSO cap there made the bridge cut every forwarded 64 KiB packet into MTU-sized
 * segments in software after HTB had dequeued it (docs/decisions.md, "Line rate").
 */
function externalHostPlumbing(host: HostPolicy): Plumbing {
  const p = emptyPlumbing();
  p.links.push({ type: 'link', netns: host.netns, name: host.bridge, up: true, spec: EXTERNAL });
  p.links.push({ type: 'link', netns: host.netns, name: host.ifb, up: true, spec: { kind: 'ifb' } });
  return p;
}

/**
 * The spec of every device Sluice shapes but does not create: immutable, so one object
 * serves all (10,000 loopbacks at 10,000 managed containers).
 */
const EXTERNAL: LinkSpec = { kind: 'external' };

/** A namespace Sluice creates for `host`: dual-stack when the Host has an IPv6 prefix. */
export const namespaceObject = (host: HostPolicy, name: string): NamespaceObject => (host.subnet6 ? { type: 'namespace', name, ipv6: true } : { type: 'namespace', name });

/** "2001:2::/64" → "/64". */
export const prefix6Of = (subnet6: string): string => subnet6.slice(subnet6.indexOf('/'));

export function loopback(ns: NetnsLocator): LinkObject {
  return { type: 'link', netns: ns, name: 'lo', up: true, spec: EXTERNAL };
}

/** A container's veth, as its placement in the compile says (no object made to say it again). */
export interface ContainerWiring {
  /** The container's namespace. */
  readonly netns: NetnsLocator;
  readonly managed: boolean;
  readonly hostDev: string;
  readonly containerDev: string;
  readonly address: string;
  /** Dual-stack: its IPv6 address (the Host has a subnet6). */
  readonly address6: string | undefined;
}

/** A device Sluice shapes but does not own, by where it is. */
export interface WorkloadDevice {
  readonly netns: NetnsLocator;
  readonly dev: string;
}

/**
 * A workload's own devices (its end inside its namespace, and the host-side veth on
 * the external bridge) when its source knows them: observed, so that they are known as
 * the runtime's (never deleted), and otherwise left as the runtime set them.
 */
export function workloadDevices(w: ResolvedWorkload, hostNetns: NetnsLocator): WorkloadDevice[] {
  const out: WorkloadDevice[] = [];
  if (w.netns && w.device) out.push({ netns: w.netns, dev: w.device });
  if (w.hostDevice) out.push({ netns: hostNetns, dev: w.hostDevice });
  return out;
}

/** What a container's port on the bridge adds to its veth, made once: a literal in the spread was an object per container. */
const ISOLATED_PORT = { isolated: true } as const;
const SWITCHED_PORT = {} as const;

/**
 * A veth from the bridge into the container's namespace, its address and route, added
 * to `into`: one Plumbing for all containers, not one per container merged afterwards.
 * `prefix` is the host subnet's, as "/24", made once per compile. The veth keeps the
 * kernel's GSO size: HTB's quanta and bursts are sized for 64 KiB packets (htb.ts), and
 * a smaller one would make the bridge cut forwarded GRO packets into segments in software.
 */
function addContainerPlumbing(into: PlumbingFilling, host: HostPolicy, w: ContainerWiring, prefix: string, prefix6: string): void {
  if (w.managed) {
    into.namespaces.push(namespaceObject(host, w.netns));
    into.links.push(loopback(w.netns));
  }
  into.links.push({
    type: 'link',
    netns: host.netns,
    name: w.hostDev,
    up: true,
    master: host.bridge,
    ...(routesBetweenPorts(host) ? ISOLATED_PORT : SWITCHED_PORT),
    spec: { kind: 'veth', peerName: w.containerDev, peerNetns: w.netns },
  });
  into.links.push({
    type: 'link',
    netns: w.netns,
    name: w.containerDev,
    up: true,
    spec: { kind: 'veth', peerName: w.hostDev, peerNetns: host.netns },
  });
  into.addresses.push({ type: 'address', netns: w.netns, dev: w.containerDev, cidr: w.address + prefix });
  if (w.address6) into.addresses.push({ type: 'address', netns: w.netns, dev: w.containerDev, cidr: w.address6 + prefix6 });
  // An attached namespace keeps its own default route; only a managed one gets ours.
  if (w.managed) into.routes.push({ type: 'route', netns: w.netns, dst: 'default', via: host.gateway, dev: w.containerDev });
  if (w.managed && w.address6 && host.gateway6) into.routes.push({ type: 'route', netns: w.netns, dst: DEFAULT_ROUTE6, via: host.gateway6, dev: w.containerDev });
}

/** What addContainerPlumbing adds for `w`, counted into `into`: it must say the same. */
function countContainerPlumbing(into: PlumbingCount, host: HostPolicy, w: ContainerWiring): void {
  if (w.managed) {
    into.namespaces++;
    into.links++;
    into.routes++;
  }
  into.links += 2;
  into.addresses += w.address6 ? 2 : 1;
  if (w.managed && w.address6 && host.gateway6) into.routes++;
}

/** A container Sluice wires: its own namespace and devices and an address, not a workload's (its runtime's). */
const wiresOf = (p: ContainerNode): WiredNode | undefined => (!p.policy.workload && isWired(p) ? p : undefined);

/**
 * The host's plumbing and every wired container's, in tree order, each list made at its
 * final size: counted first, then filled. Grown by push, the lists of 10,000 containers
 * (30,000 links) went through backing stores of ~3× their size, ~1 MB per compile.
 */
export function containersPlumbing(host: HostPolicy, nodes: readonly ContainerNode[], prefix: string, prefix6: string): Plumbing {
  const base = hostPlumbing(host);
  const count: PlumbingCount = { namespaces: 0, links: 0, addresses: 0, routes: 0 };
  // forEach rather than for-of in code that runs once per compile: unoptimised, for-of
  // allocates an iterator result per element.
  nodes.forEach((p) => {
    const w = wiresOf(p);
    if (w) countContainerPlumbing(count, host, w);
  });
  const into: PlumbingFilling = {
    namespaces: sizedAfter(base.namespaces, count.namespaces),
    links: sizedAfter(base.links, count.links),
    addresses: sizedAfter(base.addresses, count.addresses),
    routes: sizedAfter(base.routes, count.routes),
  };
  nodes.forEach((p) => {
    const w = wiresOf(p);
    if (w) addContainerPlumbing(into, host, w, prefix, prefix6);
  });
  return { namespaces: into.namespaces.filled(), links: into.links.filled(), addresses: into.addresses.filled(), routes: into.routes.filled(), sysctls: base.sysctls };
}

interface PlumbingCount {
  namespaces: number;
  links: number;
  addresses: number;
  routes: number;
}

interface PlumbingFilling {
  readonly namespaces: SizedList<NamespaceObject>;
  readonly links: SizedList<LinkObject>;
  readonly addresses: SizedList<AddressObject>;
  readonly routes: SizedList<RouteObject>;
}

/** A list of `first` and then `more` objects, made at its size. */
function sizedAfter<T>(first: readonly T[], more: number): SizedList<T> {
  const list = new SizedList<T>(first.length + more, 'countContainerPlumbing (topology.ts) must count what addContainerPlumbing adds');
  first.forEach((item) => list.push(item));
  return list;
}
