// A snapshot's per-peer-set rows (destination classes, #23) as `status` and `top` show
// them: each set (its class under the link) with its containers' rows in it indented
// under it, busiest first. Sets in policy order.
import type { PeerSetTraffic, PeerTraffic, TrafficSnapshot } from '../../traffic/snapshot';
import type { Direction } from '../../tc/model';

export type PeerLine = { readonly kind: 'set'; readonly name: string; readonly row: PeerSetTraffic } | { readonly kind: 'container'; readonly name: string; readonly row: PeerTraffic };

/** Empty for a snapshot without peer sets. */
export function peerLines(snap: TrafficSnapshot, direction: Direction): PeerLine[] {
  const out: PeerLine[] = [];
  for (const s of snap.peerSets ?? []) {
    if (s.direction !== direction) continue;
    out.push({ kind: 'set', name: `${s.peer}${s.isDefault ? ' (default)' : ''}`, row: s });
    const members = (snap.peers ?? []).filter((r) => r.direction === direction && r.peer === s.peer).sort((a, b) => b.rate - a.rate);
    for (const r of members) out.push({ kind: 'container', name: `  ${r.container}`, row: r });
  }
  return out;
}
