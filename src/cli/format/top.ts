// The `top` screen: rows sorted by rate, a bar of rate against ceiling with the guarantee marked.
import { formatRate } from '../../units/format';
import type { TrafficSnapshot } from '../../traffic/snapshot';
import { indented, treeLines, type TreeLine } from './tree';
import { peerLines } from './peers';
import { bitsPerSec } from '../../units/units';

const rate = (n: number): string => formatRate(bitsPerSec(Math.round(n))).padStart(9);

function bar(value: number, guarantee: number, ceiling: number, width: number): string {
  const cells: string[] = Array.from({ length: width }, (_, i) => (((i + 0.5) / width) * ceiling <= value ? '█' : '·'));
  const g = Math.min(width - 1, Math.floor((guarantee / Math.max(ceiling, 1)) * width));
  cells[g] = cells[g] === '█' ? '▌' : '|';
  return cells.join('');
}

/**
 * Without groups, every row by rate (both directions mixed, busiest first); with groups,
 * each direction's tree: groups (name/) with their members indented under them.
 */
function ordered(snap: TrafficSnapshot): TreeLine[] {
  const lines = [...treeLines(snap, 'download'), ...treeLines(snap, 'upload')];
  return snap.groups.length === 0 ? lines.sort((a, b) => b.row.rate - a.row.rate) : lines;
}

export function renderTop(snap: TrafficSnapshot, via: string, columns: number): string {
  const shown = ordered(snap);
  const byPeer = [...peerLines(snap, 'download'), ...peerLines(snap, 'upload')];
  const nameWidth = Math.max(14, ...shown.map((l) => indented(l).length), ...byPeer.map((l) => l.name.length));
  const width = Math.max(10, Math.min(40, columns - 56 - nameWidth));
  const lines = [`sluice top · host ${snap.host} · from ${via} · ${new Date().toISOString()}`, ''];
  lines.push(`${(snap.groups.length > 0 ? 'group / container' : 'container').padEnd(nameWidth)} ${'dir'.padEnd(8)} prio ${'rate'.padStart(9)} ${'guarantee'.padStart(9)} ${'ceiling'.padStart(9)} drops  rate vs ceiling`);
  const row = (name: string, r: { direction: string; priority: number; rate: number; guarantee: number; ceiling: number; drops: number }): string =>
    `${name.padEnd(nameWidth)} ${r.direction.padEnd(8)} ${String(r.priority).padStart(4)} ${rate(r.rate)} ${rate(r.guarantee)} ${rate(r.ceiling)} ${String(r.drops).padStart(5)}  ${bar(r.rate, r.guarantee, r.ceiling, width)}`;
  for (const line of shown) lines.push(row(indented(line), line.row));
  // Peer sets: each set (ceiling: its capacity) with its containers' rows in it, after the totals' rows.
  if (byPeer.length > 0) lines.push('', 'peer set / container');
  for (const line of byPeer) lines.push(row(line.name, line.row));
  for (const direction of ['download', 'upload'] as const) {
    const total = snap.rows.filter((r) => r.direction === direction).reduce((s, r) => s + r.rate, 0);
    lines.push(`${direction} total ${formatRate(bitsPerSec(Math.round(total)))} of ${formatRate(snap.capacity[direction])}`);
  }
  return lines.join('\n');
}
