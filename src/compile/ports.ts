// Traffic between two containers switched port to port on the bridge: it passes neither
// the bridge device's ingress (so not the IFB) nor its egress, and no tree would shape it.
// On a bridge whose ports stay switched (one Sluice does not own, or a dual-stack one,
// see routesBetweenPorts), each container port Sluice knows gets a hook on its ingress
// that sends such frames through the IFB first: the sender's upload class shapes them,
// then the IFB hands them back to the port and the bridge switches them as before.
// docs/decisions.md, "Traffic between two containers on the same bridge". Pure.

import type { HostPolicy } from '../policy/model';
import { makeHandle, TC_H_INGRESS } from '../tc/handle';
import { ETH_P_ALL, type FilterObject, type FilterSpec, type NetnsLocator, type QdiscObject } from '../tc/model';
import { ipToInt, maskOf, parseSubnet } from '../net/ipv4';
import { parseIpv6, parseSubnet6 } from '../net/ipv6';
import type { ContainerNode } from '../shape/model';
import { routesBetweenPorts } from './topology';
import { DST6_OFFSET, DST_OFFSET, INGRESS_MAJOR, IPV4_VERSION, IPV6_VERSION, prefixKeys6, U32_ROOT_TABLE, u32Handle, versionKey } from './trees';

const INGRESS_HANDLE = makeHandle(INGRESS_MAJOR, 0);
/**
 * What the pass node classifies to: u32 ends its walk only at a node with a class or an
 * action (TC_U32_TERMINAL), and a terminal node without actions lets the packet through.
 * The ingress qdisc has no classes: the class id is not used.
 */
const PASS_CLASSID = makeHandle(INGRESS_MAJOR, 1);
const PORT_FILTER_PRIO = 1;
/** One u32 instance per port: its nodes in the root table (800:) run in handle order. */
const FIRST_NODE = 0x800;

export interface PortHooks {
  readonly qdiscs: QdiscObject[];
  readonly filters: FilterObject[];
}

/**
 * The port of a container on the Host's bridge, when its ports stay switched and Sluice
 * knows the port: its own veth's host end, or the host-side veth a workload's source
 * reports (a CNI pod's from the bridge plugin's result, a Docker container's found in the
 * kernel). Without one (a Docker container on several networks), its same-host traffic
 * stays unshaped.
 */
export function switchedPort(host: HostPolicy, node: ContainerNode): string | undefined {
  if (host.mode !== 'shared' || routesBetweenPorts(host)) return undefined;
  return host.external ? node.policy.workload?.hostDevice : node.hostDev;
}

/**
 * Each port's hook: an ingress qdisc and one u32 filter whose nodes, in handle order,
 * let traffic for the bridge itself pass (the bridge's own ingress sends that to the IFB
 * already: a second redirect would count it twice) and send the rest of the containers'
 * subnet through the IFB. Anything else (ARP, multicast, a routed peer behind the
 * bridge) passes untouched.
 */
export function portHooks(host: HostPolicy, ports: readonly string[]): PortHooks {
  const nodes = hookNodes(host);
  const out: PortHooks = { qdiscs: [], filters: [] };
  for (const dev of ports) {
    out.qdiscs.push(ingressQdisc(host.netns, dev));
    nodes.forEach((spec, k) => out.filters.push(hookFilter(host.netns, dev, u32Handle(U32_ROOT_TABLE, 0, FIRST_NODE + k), spec)));
  }
  return out;
}

const ingressQdisc = (netns: NetnsLocator, dev: string): QdiscObject => ({ type: 'qdisc', netns, dev, handle: INGRESS_HANDLE, parent: TC_H_INGRESS, spec: { kind: 'ingress' } });

function hookFilter(netns: NetnsLocator, dev: string, handle: number, spec: FilterSpec): FilterObject {
  return { type: 'filter', netns, dev, parent: INGRESS_HANDLE, prio: PORT_FILTER_PRIO, protocol: ETH_P_ALL, handle, spec };
}

/** The u32 nodes every port of the Host shares: pass the gateway, redirect the subnet (per family). */
function hookNodes(host: HostPolicy): FilterSpec[] {
  const redirect = [{ kind: 'mirred', action: 'egress-redirect', targetDev: host.ifb }] as const;
  const subnet = parseSubnet(host.subnet);
  const nodes: FilterSpec[] = [
    { kind: 'u32', keys: [versionKey(IPV4_VERSION), { value: ipToInt(host.gateway), mask: 0xffffffff, off: DST_OFFSET }], classid: PASS_CLASSID },
    { kind: 'u32', keys: [versionKey(IPV4_VERSION), { value: subnet.network, mask: maskOf(subnet.prefix), off: DST_OFFSET }], actions: redirect },
  ];
  const subnet6 = host.subnet6 !== undefined ? parseSubnet6(host.subnet6) : undefined;
  const gateway6 = host.gateway6 !== undefined ? parseIpv6(host.gateway6) : undefined;
  if (subnet6 && gateway6) {
    nodes.push({ kind: 'u32', keys: [versionKey(IPV6_VERSION), ...prefixKeys6(gateway6, 128, DST6_OFFSET)], classid: PASS_CLASSID });
    nodes.push({ kind: 'u32', keys: [versionKey(IPV6_VERSION), ...prefixKeys6(subnet6.words, subnet6.prefix, DST6_OFFSET)], actions: redirect });
  }
  return nodes;
}
