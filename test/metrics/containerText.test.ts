import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContainerMetricsCache, renderContainerMetrics } from '../../src/metrics/containerText';
import type { ContainerTraffic, TrafficSnapshot } from '../../src/traffic/snapshot';
import { bitsPerSec } from '../../src/units/units';

// The exposition as plain template strings: what the byte writer must reproduce exactly.
const FAMILY_VALUES: readonly [string, (r: ContainerTraffic) => number][] = [
  ['sluice_container_bytes_total', (r) => r.bytes],
  ['sluice_container_packets_total', (r) => r.packets],
  ['sluice_container_drops_total', (r) => r.drops],
  ['sluice_container_overlimits_total', (r) => r.overlimits],
  ['sluice_container_borrows_total', (r) => r.borrows],
  ['sluice_container_lends_total', (r) => r.lends],
  ['sluice_container_backlog_bytes', (r) => r.backlogBytes],
  ['sluice_container_rate_bytes_per_second', (r) => r.rate / 8],
  ['sluice_container_guarantee_bytes_per_second', (r) => r.guarantee / 8],
  ['sluice_container_ceiling_bytes_per_second', (r) => r.ceiling / 8],
  ['sluice_container_borrowed_bytes_per_second', (r) => Math.max(0, r.rate - r.guarantee) / 8],
];
const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const referenceLines = (s: TrafficSnapshot): string[] => [
  ...FAMILY_VALUES.flatMap(([name, value]) => s.rows.map((r) => `${name}{container="${esc(r.container)}",direction="${r.direction}"} ${value(r)}`)),
  ...s.rows.filter((r, i) => s.rows.findIndex((o) => o.container === r.container) === i).map((r) => `sluice_container_info{container="${esc(r.container)}",source="${esc(r.source ?? '')}",workload="${esc(r.workload ?? '')}"} 1`),
];
const samples = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

const counter = fc.oneof(fc.nat(), fc.constant(2 ** 53 - 1), fc.constant(2 ** 60), fc.double({ min: 0, max: 1e12, noNaN: true }));
const row = fc.record({
  container: fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('web', 'wéb-ü', 'a"b\\c\nd')),
  workload: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
  direction: fc.constantFrom('download' as const, 'upload' as const),
  guarantee: counter.map(bitsPerSec),
  ceiling: counter.map(bitsPerSec),
  priority: fc.integer({ min: 0, max: 7 }),
  bytes: counter,
  packets: counter,
  drops: counter,
  overlimits: counter,
  backlogBytes: counter,
  lends: counter,
  borrows: counter,
  rate: counter.map(bitsPerSec),
});
const snapshotOf = (rows: ContainerTraffic[]): TrafficSnapshot => ({ at: 1, host: 'h', capacity: { download: bitsPerSec(1e9), upload: bitsPerSec(1e9) }, rows: rows.map(({ workload, ...r }) => (workload === undefined ? r : { ...r, workload, source: 'docker' })), groups: [] });

describe('per-container metrics text', () => {
  it('writes every sample exactly as template strings would (escapes, UTF-8, integers, fractions)', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
        const s = snapshotOf(rows);
        expect(samples(renderContainerMetrics(s))).toEqual(referenceLines(s));
      }),
    );
  });

  it('serves the same text gzipped, renders once per snapshot, and follows containers that come and go', async () => {
    const cache = new ContainerMetricsCache();
    const base = { direction: 'download' as const, guarantee: bitsPerSec(8), ceiling: bitsPerSec(16), priority: 0, bytes: 1, packets: 1, drops: 0, overlimits: 0, backlogBytes: 0, lends: 0, borrows: 0, rate: bitsPerSec(8) };
    const first = snapshotOf([{ ...base, container: 'a', workload: 'x' }, { ...base, container: 'b' }]);
    expect(cache.get(first)).toBe(cache.get(first));
    expect(gunzipSync(await cache.gzip(first)).toString('utf8')).toBe(cache.get(first));
    const second = snapshotOf([{ ...base, container: 'b', bytes: 7 }, { ...base, container: 'c', workload: 'y' }]);
    expect(samples(gunzipSync(await cache.gzip(second)).toString('utf8'))).toEqual(referenceLines(second));
    expect(cache.get(second)).not.toContain('container="a"');
    expect(cache.get(undefined)).toBe('');
  });
});
