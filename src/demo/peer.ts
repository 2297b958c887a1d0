// The demo's "remote peer": a namespace routed (not bridged) to the sandbox host, so
// traffic to and from containers crosses the host's shaping trees as traffic from the
// outside world does. Pure: kernel objects only.

import { namespaceObject, ROUTER_LINK_LOCAL6 } from '../compile/topology';
import type { HostPolicy } from '../policy/model';
import { emptyKernelState, type KernelState } from '../tc/model';

export const PEER_NETNS = 'sl-peer';
const PEER_HOST_DEV = 'sl-peer';
const PEER_DEV = 'eth0';
/** A /30 outside the container subnet, inside 198.18.0.0/15. */
export const PEER_LINK = { host: '198.18.255.1', peer: '198.18.255.2', prefix: 30 } as const;
/** Dual-stack: a /64 of the IPv6 benchmarking prefix 2001:2::/48 (RFC 5180), apart from the containers' 2001:2::/64. */
export const PEER_LINK6 = { host: '2001:2:0:ff::1', peer: '2001:2:0:ff::2', prefix: 64 } as const;

/** Where a peer is: its namespace, the host side of its veth, and the /30 and /64 between them. */
export interface PeerSite {
  readonly netns: string;
  readonly hostDev: string;
  readonly link: { readonly host: string; readonly peer: string; readonly prefix: number };
  readonly link6: { readonly host: string; readonly peer: string; readonly prefix: number };
}

export const DEMO_PEER: PeerSite = { netns: PEER_NETNS, hostDev: PEER_HOST_DEV, link: PEER_LINK, link6: PEER_LINK6 };

/** The GSO size Sluice once gave its veths (and this peer), for benchmarks that compare with it. */
export const CAPPED_GSO_MAX_SIZE = 16_384;

/**
 * `gso`: 'kernel-default' leaves the peer's veth at 64 KiB GSO packets, as traffic from a
 * NIC with GRO arrives; 'capped' sends at most CAPPED_GSO_MAX_SIZE per packet. `site`:
 * another peer beside the demo's (the destinations tests route two).
 */
export function peerState(host: HostPolicy, gso: 'capped' | 'kernel-default' = 'kernel-default', site: PeerSite = DEMO_PEER): KernelState {
  const s = emptyKernelState();
  const v6 = host.subnet6 !== undefined;
  const { netns, hostDev, link, link6 } = site;
  const gsoMaxSize = gso === 'capped' ? { gsoMaxSize: CAPPED_GSO_MAX_SIZE } : {};
  return {
    ...s,
    namespaces: [namespaceObject(host, netns)],
    links: [
      { type: 'link', netns: host.netns, name: hostDev, up: true, ...gsoMaxSize, spec: { kind: 'veth', peerName: PEER_DEV, peerNetns: netns } },
      { type: 'link', netns: netns, name: PEER_DEV, up: true, ...gsoMaxSize, spec: { kind: 'veth', peerName: hostDev, peerNetns: host.netns } },
      { type: 'link', netns: netns, name: 'lo', up: true, spec: { kind: 'external' } },
    ],
    addresses: [
      { type: 'address', netns: host.netns, dev: hostDev, cidr: `${link.host}/${link.prefix}` },
      { type: 'address', netns: netns, dev: PEER_DEV, cidr: `${link.peer}/${link.prefix}` },
      ...(v6
        ? [
            { type: 'address' as const, netns: host.netns, dev: hostDev, cidr: `${link6.host}/${link6.prefix}` },
            { type: 'address' as const, netns: host.netns, dev: hostDev, cidr: ROUTER_LINK_LOCAL6 },
            { type: 'address' as const, netns: netns, dev: PEER_DEV, cidr: `${link6.peer}/${link6.prefix}` },
          ]
        : []),
    ],
    routes: [
      { type: 'route', netns: netns, dst: host.subnet, via: link.host, dev: PEER_DEV },
      ...(v6 && host.subnet6 ? [{ type: 'route' as const, netns: netns, dst: host.subnet6, via: link6.host, dev: PEER_DEV }] : []),
    ],
  };
}
