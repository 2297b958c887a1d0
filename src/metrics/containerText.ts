// Per-container metric families, rendered straight to the Prometheus text format from
// the latest snapshot and cached until the next one: at 10,000 containers that is
// ~120,000 series, which prom-client's generic path renders too slowly for a scrape
// that must not stall the reconciler. The values are the kernel's own cumulative
// counters, so they stay monotonic across daemon restarts (the classes survive them).

import { gzipSync } from 'node:zlib';
import type { TrafficSnapshot, ContainerTraffic } from '../traffic/snapshot';

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly value: (r: ContainerTraffic) => number;
}

const FAMILIES: readonly Family[] = [
  { name: 'sluice_container_bytes_total', type: 'counter', help: 'Bytes sent through the container class (L2, as HTB counts them).', value: (r) => r.bytes },
  { name: 'sluice_container_packets_total', type: 'counter', help: 'Packets sent through the container class.', value: (r) => r.packets },
  { name: 'sluice_container_drops_total', type: 'counter', help: 'Packets dropped in the container class (its leaf queue included).', value: (r) => r.drops },
  { name: 'sluice_container_overlimits_total', type: 'counter', help: 'Times the container class was over its rate and had to wait or borrow.', value: (r) => r.overlimits },
  { name: 'sluice_container_borrows_total', type: 'counter', help: 'Times the class borrowed idle capacity from its parent (HTB).', value: (r) => r.borrows },
  { name: 'sluice_container_lends_total', type: 'counter', help: 'Times the class sent within its own guarantee (HTB "lends").', value: (r) => r.lends },
  { name: 'sluice_container_backlog_bytes', type: 'gauge', help: 'Bytes queued in the container class.', value: (r) => r.backlogBytes },
  { name: 'sluice_container_rate_bytes_per_second', type: 'gauge', help: 'Current smoothed rate of the container.', value: (r) => r.rate / 8 },
  { name: 'sluice_container_guarantee_bytes_per_second', type: 'gauge', help: 'Guarantee in force (after schedules and overcommit scaling).', value: (r) => r.guarantee / 8 },
  { name: 'sluice_container_ceiling_bytes_per_second', type: 'gauge', help: 'Ceiling in force.', value: (r) => r.ceiling / 8 },
  { name: 'sluice_container_borrowed_bytes_per_second', type: 'gauge', help: 'Current rate above the guarantee.', value: (r) => Math.max(0, r.rate - r.guarantee) / 8 },
];

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function renderContainerMetrics(snapshot: TrafficSnapshot | undefined): string {
  if (!snapshot) return '';
  const labels = snapshot.rows.map((r) => `{container="${escapeLabel(r.container)}",direction="${r.direction}"}`);
  const parts: string[] = [];
  for (const f of FAMILIES) {
    parts.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    const lines = new Array<string>(snapshot.rows.length);
    for (let i = 0; i < snapshot.rows.length; i++) lines[i] = `${f.name}${labels[i]} ${f.value(snapshot.rows[i]!)}\n`;
    parts.push(lines.join(''));
  }
  parts.push(infoFamily(snapshot.rows));
  return parts.join('');
}

/** What each container is, as labels to join on: its Docker name, its pod ("" for other matches). */
function infoFamily(rows: readonly ContainerTraffic[]): string {
  const name = 'sluice_container_info';
  const seen = new Set<string>();
  const lines = [`# HELP ${name} The container a policy entry shapes (value 1): docker_container is Docker's name for it, pod the CNI pod's namespace/name.\n# TYPE ${name} gauge\n`];
  for (const r of rows) {
    if (seen.has(r.container)) continue;
    seen.add(r.container);
    lines.push(`${name}{container="${escapeLabel(r.container)}",docker_container="${escapeLabel(r.docker ?? '')}",pod="${escapeLabel(r.pod ?? '')}"} 1\n`);
  }
  return lines.join('');
}

/** Renders once per snapshot object; scrapes in between get the cached text (and its gzip). */
export class ContainerMetricsCache {
  private source: TrafficSnapshot | undefined;
  private text = '';
  private gzipped: Buffer | undefined;

  get(snapshot: TrafficSnapshot | undefined): string {
    if (snapshot !== this.source) {
      this.source = snapshot;
      this.text = renderContainerMetrics(snapshot);
      this.gzipped = undefined;
    }
    return this.text;
  }

  /** A gzip member of the text; gzip members concatenate, so it can follow another. */
  gzip(snapshot: TrafficSnapshot | undefined): Buffer {
    const text = this.get(snapshot);
    this.gzipped ??= gzipSync(text, { level: 1 });
    return this.gzipped;
  }
}
