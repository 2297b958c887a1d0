// The status table: what an operator reads to know who is using the link.
import Table from 'cli-table3';
import { formatRate } from '../../units/format';
import { displayName, type TrafficSnapshot } from '../../traffic/snapshot';
import { DIRECTIONS } from '../../tc/model';
import { bitsPerSec } from '../../units/units';

const rate = (n: number): string => formatRate(bitsPerSec(Math.round(n)));

export function renderStatus(snap: TrafficSnapshot): string {
  const parts: string[] = [];
  for (const direction of DIRECTIONS) {
    const rows = snap.rows.filter((r) => r.direction === direction).sort((a, b) => b.rate - a.rate);
    const table = new Table({ head: ['container', 'prio', 'guarantee', 'ceiling', 'rate', '% of guar.', 'borrowed', 'drops'], style: { head: [], border: [] } });
    for (const r of rows) {
      table.push([displayName(r), String(r.priority), rate(r.guarantee), rate(r.ceiling), rate(r.rate), r.guarantee > 0 ? `${((r.rate / r.guarantee) * 100).toFixed(0)}%` : '-', rate(Math.max(0, r.rate - r.guarantee)), String(r.drops)]);
    }
    const total = rows.reduce((s, r) => s + r.rate, 0);
    const cap = snap.capacity[direction];
    parts.push(`${direction} (link ${rate(cap)})\n${table.toString()}\ntotal ${rate(total)} of ${rate(cap)} (${((total / cap) * 100).toFixed(1)}%)`);
  }
  return parts.join('\n\n');
}
