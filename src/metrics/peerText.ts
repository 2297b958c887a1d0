// Per-peer-set metric families from the latest snapshot (destination classes, #23): each
// container's traffic with each set (sluice_container_peer_*, a `peer` label) and each
// set's class (sluice_peer_set_*). Families of their own, not a `peer` label on the
// sluice_container_* ones: those stay the container's total, and sum() over a family
// never counts a byte twice. Plain text, once per snapshot (metrics.ts), as groups'.

import type { PeerSetTraffic, PeerTraffic, TrafficSnapshot } from '../traffic/snapshot';
import { escapeLabel, familyText, type Family } from './containerText';

const PAIR_FAMILIES: readonly Family<PeerTraffic>[] = [
  { name: 'sluice_container_peer_bytes_total', type: 'counter', help: "Bytes the container exchanged with the peer set's peers (L2, at its class in the set's HTB).", value: (r) => r.bytes },
  { name: 'sluice_container_peer_packets_total', type: 'counter', help: "Packets the container exchanged with the peer set's peers.", value: (r) => r.packets },
  { name: 'sluice_container_peer_drops_total', type: 'counter', help: "Packets dropped in the container's class in the peer set.", value: (r) => r.drops },
  { name: 'sluice_container_peer_rate_bytes_per_second', type: 'gauge', help: "Current smoothed rate of the container with the peer set.", value: (r) => r.rate / 8 },
  { name: 'sluice_container_peer_guarantee_bytes_per_second', type: 'gauge', help: "The container's guarantee in the peer set.", value: (r) => r.guarantee / 8 },
  { name: 'sluice_container_peer_ceiling_bytes_per_second', type: 'gauge', help: "The container's ceiling in the peer set.", value: (r) => r.ceiling / 8 },
];

const SET_FAMILIES: readonly Family<PeerSetTraffic>[] = [
  { name: 'sluice_peer_set_bytes_total', type: 'counter', help: "Bytes all containers exchanged with the peer set's peers (L2, at the set's class).", value: (r) => r.bytes },
  { name: 'sluice_peer_set_packets_total', type: 'counter', help: "Packets all containers exchanged with the peer set's peers.", value: (r) => r.packets },
  { name: 'sluice_peer_set_drops_total', type: 'counter', help: "Packets dropped in the peer set (its containers' classes included).", value: (r) => r.drops },
  { name: 'sluice_peer_set_rate_bytes_per_second', type: 'gauge', help: 'Current smoothed rate of all containers with the peer set.', value: (r) => r.rate / 8 },
  { name: 'sluice_peer_set_guarantee_bytes_per_second', type: 'gauge', help: "The peer set's guarantee: its containers' guarantees in it together.", value: (r) => r.guarantee / 8 },
  { name: 'sluice_peer_set_capacity_bytes_per_second', type: 'gauge', help: "The peer set's capacity: the most all containers get with it together.", value: (r) => r.ceiling / 8 },
];

/** The peer sets' families as exposition text ('' for a policy without peer sets). */
export function renderPeerMetrics(snapshot: TrafficSnapshot | undefined): string {
  const pairs = snapshot?.peers ?? [];
  const sets = snapshot?.peerSets ?? [];
  if (sets.length === 0) return '';
  const out: string[] = [];
  for (const f of PAIR_FAMILIES) familyText(out, f, pairs, (r) => `container="${escapeLabel(r.container)}",peer="${escapeLabel(r.peer)}",direction="${r.direction}"`);
  for (const f of SET_FAMILIES) familyText(out, f, sets, (r) => `peer="${escapeLabel(r.peer)}",direction="${r.direction}"`);
  return out.join('');
}
