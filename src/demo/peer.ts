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

/** The GSO size Sluice once gave its veths (and this peer), for benchmarks that compare with it. */
export const CAPPED_GSO_MAX_SIZE = 16_384;

/**
 * `gso`: 'kernel-default' leaves the peer's veth at 64 KiB GSO packets, as traffic from a
 * NIC with GRO arrives; 'capped' sends at most CAPPED_GSO_MAX_SIZE per packet.
 */
export function peerState(host: HostPolicy, gso: 'capped' | 'kernel-default' = 'kernel-default'): KernelState {
  const s = emptyKernelState();
  const v6 = host.subnet6 !== undefined;
  const gsoMaxSize = gso === 'capped' ? { gsoMaxSize: CAPPED_GSO_MAX_SIZE } : {};
  return {
    ...s,
    namespaces: [namespaceObject(host, PEER_NETNS)],
    links: [
      { type: 'link', netns: host.netns, name: PEER_HOST_DEV, up: true, ...gsoMaxSize, spec: { kind: 'veth', peerName: PEER_DEV, peerNetns: PEER_NETNS } },
      { type: 'link', netns: PEER_NETNS, name: PEER_DEV, up: true, ...gsoMaxSize, spec: { kind: 'veth', peerName: PEER_HOST_DEV, peerNetns: host.netns } },
      { type: 'link', netns: PEER_NETNS, name: 'lo', up: true, spec: { kind: 'external' } },
    ],
    addresses: [
      { type: 'address', netns: host.netns, dev: PEER_HOST_DEV, cidr: `${PEER_LINK.host}/${PEER_LINK.prefix}` },
      { type: 'address', netns: PEER_NETNS, dev: PEER_DEV, cidr: `${PEER_LINK.peer}/${PEER_LINK.prefix}` },
      ...(v6
        ? [
            { type: 'address' as const, netns: host.netns, dev: PEER_HOST_DEV, cidr: `${PEER_LINK6.host}/${PEER_LINK6.prefix}` },
            { type: 'address' as const, netns: host.netns, dev: PEER_HOST_DEV, cidr: ROUTER_LINK_LOCAL6 },
            { type: 'address' as const, netns: PEER_NETNS, dev: PEER_DEV, cidr: `${PEER_LINK6.peer}/${PEER_LINK6.prefix}` },
          ]
        : []),
    ],
    routes: [
      { type: 'route', netns: PEER_NETNS, dst: host.subnet, via: PEER_LINK.host, dev: PEER_DEV },
      ...(v6 && host.subnet6 ? [{ type: 'route' as const, netns: PEER_NETNS, dst: host.subnet6, via: PEER_LINK6.host, dev: PEER_DEV }] : []),
    ],
  };
}
