import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics';
import type { TrafficSnapshot } from '../../src/traffic/snapshot';
import { bitsPerSec } from '../../src/units/units';
import { renderStatus } from '../../src/cli/format/status';
import { renderTop } from '../../src/cli/format/top';

const snap = (bytes: number): TrafficSnapshot => ({
  at: 1,
  host: 'demo',
  capacity: { download: bitsPerSec(100e6), upload: bitsPerSec(100e6) },
  rows: [
    { container: 'web', direction: 'download', guarantee: bitsPerSec(30e6), ceiling: bitsPerSec(100e6), priority: 0, bytes, packets: 10, drops: 0, overlimits: 3, backlogBytes: 0, lends: 1, borrows: 2, rate: bitsPerSec(50e6) },
  ],
  groups: [],
});

describe('metrics', () => {
  it('exposes per-container families with container and direction labels, from the kernel counters', async () => {
    let current = snap(1000);
    const m = createMetrics({ snapshot: () => current }, '0.1.0');
    m.observeTick({ at: 2000, durationMs: 12, operations: 0, driftRepairs: 1, windows: [] });
    const text = await m.render();
    expect(text).toContain('sluice_container_bytes_total{container="web",direction="download"} 1000');
    expect(text).toContain('sluice_container_borrowed_bytes_per_second{container="web",direction="download"} 2500000');
    expect(text).toContain('# TYPE sluice_container_bytes_total counter');
    expect(text).toContain('sluice_drift_repairs_total 1');
    expect(text).toContain('sluice_link_utilisation_ratio{direction="download"} 0.5');
    expect(text).toContain('sluice_build_info{version="0.1.0"} 1');
    current = snap(5000);
    expect(await m.render()).toContain('sluice_container_bytes_total{container="web",direction="download"} 5000');
  });

  it('names the Docker container a policy entry shapes, in an info family and in status/top', async () => {
    const base = snap(1).rows[0]!;
    const current: TrafficSnapshot = { ...snap(1), rows: [{ ...base, container: 'web', workload: 'sl-test_web_1', source: 'docker' }, { ...base, container: 'db', direction: 'upload' }] };
    const text = await createMetrics({ snapshot: () => current }, 'x').render();
    expect(text).toContain('sluice_container_info{container="web",source="docker",workload="sl-test_web_1"} 1');
    expect(text).toContain('sluice_container_info{container="db",source="",workload=""} 1');
    expect(renderStatus(current)).toContain('web (sl-test_web_1)');
    expect(renderTop(current, 'test', 120)).toMatch(/^web \(sl-test_web_1\)\s+download/m);
  });

  it('exposes per-group families, and status and top show the tree indented with group totals', async () => {
    const base = snap(1).rows[0]!;
    const group = { parent: undefined, level: 1, direction: 'download' as const, guarantee: bitsPerSec(40e6), ceiling: bitsPerSec(70e6), priority: 2, bytes: 9000, packets: 9, drops: 1, overlimits: 0, backlogBytes: 0, borrows: 0 };
    const current: TrafficSnapshot = {
      ...snap(1),
      rows: [{ ...base, container: 'web', group: 'front', rate: bitsPerSec(30e6) }, { ...base, container: 'db', group: 'shop', rate: bitsPerSec(10e6) }, { ...base, container: 'tool', rate: bitsPerSec(5e6) }],
      groups: [
        { ...group, group: 'shop', rate: bitsPerSec(40e6) },
        { ...group, group: 'front', parent: 'shop', level: 2, guarantee: bitsPerSec(20e6), rate: bitsPerSec(30e6) },
      ],
    };
    const text = await createMetrics({ snapshot: () => current }, 'x').render();
    expect(text).toContain('# TYPE sluice_group_bytes_total counter');
    expect(text).toContain('sluice_group_bytes_total{group="shop",direction="download"} 9000');
    expect(text).toContain('sluice_group_guarantee_bytes_per_second{group="front",direction="download"} 2500000');
    expect(text).toContain('sluice_group_ceiling_bytes_per_second{group="shop",direction="download"} 8750000');
    expect(text).toContain('sluice_group_info{group="front",parent="shop",level="2"} 1');
    const names = renderStatus(current).split('\n').map((l) => l.split('│')[1]?.trimEnd() ?? '').filter((n) => /\w/.test(n) && !n.includes('container'));
    expect(names.slice(0, 4)).toEqual([' shop/', '   front/', '     web', '   db']);
    expect(renderTop(current, 'test', 120).split('\n').slice(3, 7).map((l) => l.split(' download')[0]!.trimEnd())).toEqual(['shop/', '  front/', '    web', '  db']);
  });

  it('renders the group families once per snapshot: a scrape of the same snapshot reads the same text, gzipped alike, a new snapshot its own', async () => {
    const base = snap(1).rows[0]!;
    const group = { group: 'shop', parent: undefined, level: 1, direction: 'download' as const, guarantee: bitsPerSec(40e6), ceiling: bitsPerSec(70e6), priority: 2, bytes: 9000, packets: 9, drops: 0, overlimits: 0, backlogBytes: 0, borrows: 0, rate: bitsPerSec(1e6) };
    let current: TrafficSnapshot = { ...snap(1), rows: [{ ...base, container: 'web', group: 'shop' }], groups: [group] };
    const m = createMetrics({ snapshot: () => current }, 'x');
    const first = await m.render();
    expect(await m.render()).toBe(first);
    expect(gunzipSync(await m.renderGzip()).toString()).toBe(first);
    current = { ...current, groups: [{ ...group, bytes: 12_000 }] };
    expect(await m.render()).toContain('sluice_group_bytes_total{group="shop",direction="download"} 12000');
    expect(gunzipSync(await m.renderGzip()).toString()).toContain('sluice_group_bytes_total{group="shop",direction="download"} 12000');
  });

  it('healthz follows the last tick', () => {
    const m = createMetrics({ snapshot: () => undefined }, 'x');
    expect(m.healthy().ok).toBe(false);
    m.observeTick({ at: 1, durationMs: 1, operations: 0, driftRepairs: 0, windows: [] });
    expect(m.healthy().ok).toBe(true);
    m.observeTick({ at: 2, durationMs: 1, operations: 0, driftRepairs: 0, windows: [], error: { kind: 'transient', message: 'boom', code: 'EINVAL' } });
    expect(m.healthy()).toMatchObject({ ok: false, lastError: 'boom' });
  });
});
