// Per-group metric families from the latest snapshot: a group's class counts what all
// its members send (and drop), so these are its totals. A policy has tens or hundreds of
// groups, not tens of thousands of containers: plain text, rendered once per snapshot.

import type { GroupTraffic, TrafficSnapshot } from '../traffic/snapshot';
import { escapeLabel, familyText, type Family } from './containerText';

const FAMILIES: readonly Family<GroupTraffic>[] = [
  { name: 'sluice_group_bytes_total', type: 'counter', help: "Bytes the group's members sent together (L2, as HTB counts them at the group's class).", value: (g) => g.bytes },
  { name: 'sluice_group_packets_total', type: 'counter', help: "Packets the group's members sent together.", value: (g) => g.packets },
  { name: 'sluice_group_drops_total', type: 'counter', help: "Packets dropped in the group (its members' queues included).", value: (g) => g.drops },
  { name: 'sluice_group_rate_bytes_per_second', type: 'gauge', help: "Current smoothed rate of the group's members together.", value: (g) => g.rate / 8 },
  { name: 'sluice_group_guarantee_bytes_per_second', type: 'gauge', help: 'Guarantee of the group in force (its members\' sum when it states none; after overcommit scaling).', value: (g) => g.guarantee / 8 },
  { name: 'sluice_group_ceiling_bytes_per_second', type: 'gauge', help: 'Ceiling of the group in force: the most its members take together.', value: (g) => g.ceiling / 8 },
];

const INFO_NAME = 'sluice_group_info';

/** The groups' families as exposition text ('' for a policy without groups). */
export function renderGroupMetrics(snapshot: TrafficSnapshot | undefined): string {
  const groups = snapshot?.groups ?? [];
  if (groups.length === 0) return '';
  const out: string[] = [];
  for (const f of FAMILIES) familyText(out, f, groups, (g) => `group="${escapeLabel(g.group)}",direction="${g.direction}"`);
  out.push(`# HELP ${INFO_NAME} A group of the policy (value 1): its parent group ("" under the link) and its level (1 under the link).\n# TYPE ${INFO_NAME} gauge\n`);
  for (const g of groups) if (g.direction === 'download') out.push(`${INFO_NAME}{group="${escapeLabel(g.group)}",parent="${escapeLabel(g.parent ?? '')}",level="${g.level}"} 1\n`);
  return out.join('');
}
