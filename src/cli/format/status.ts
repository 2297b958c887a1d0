// The status table: what an operator reads to know who is using the link.
import Table from 'cli-table3';
import { formatRate } from '../../units/format';
import type { TrafficSnapshot } from '../../traffic/snapshot';
import { indented, treeLines } from './tree';
import { peerLines } from './peers';
import { DIRECTIONS } from '../../tc/model';
import { bitsPerSec } from '../../units/units';

const rate = (n: number): string => formatRate(bitsPerSec(Math.round(n)));
const HEAD = ['prio', 'guarantee', 'ceiling', 'rate', '% of guar.', 'borrowed', 'drops'];

function cells(name: string, r: { priority: number; guarantee: number; ceiling: number; rate: number; drops: number }): string[] {
  return [name, String(r.priority), rate(r.guarantee), rate(r.ceiling), rate(r.rate), r.guarantee > 0 ? `${((r.rate / r.guarantee) * 100).toFixed(0)}%` : '-', rate(Math.max(0, r.rate - r.guarantee)), String(r.drops)];
}

export function renderStatus(snap: TrafficSnapshot): string {
  const parts: string[] = [];
  for (const direction of DIRECTIONS) {
    // Groups (name/) with their members indented under them; a group's row is its members' total.
    const lines = treeLines(snap, direction);
    const table = new Table({ head: [snap.groups.length > 0 ? 'group / container' : 'container', ...HEAD], style: { head: [], border: [] } });
    for (const line of lines) table.push(cells(indented(line), line.row));
    const total = snap.rows.filter((r) => r.direction === direction).reduce((s, r) => s + r.rate, 0);
    const cap = snap.capacity[direction];
    parts.push(`${direction} (link ${rate(cap)})\n${table.toString()}\ntotal ${rate(total)} of ${rate(cap)} (${((total / cap) * 100).toFixed(1)}%)`);
    // With peer sets a container's row above is its total; here, each set (ceiling: its capacity) and its share in it.
    const byPeer = peerLines(snap, direction);
    if (byPeer.length > 0) {
      const sets = new Table({ head: ['peer set / container', ...HEAD], style: { head: [], border: [] } });
      for (const line of byPeer) sets.push(cells(line.name, line.row));
      parts.push(`${direction} by peer set\n${sets.toString()}`);
    }
  }
  return parts.join('\n\n');
}
