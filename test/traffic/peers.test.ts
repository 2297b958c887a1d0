// Destination classes as operators see them (#23 item 5): per-set rows in the snapshot,
// the peer families in the metrics, and the by-peer-set tables of `status` and `top`,
// from the example policy compiled and counters set by hand (no kernel).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompiledClassRef } from '../../src/compile';
import { parsePolicyTexts } from '../../src/policy/load';
import { type ObservedState, type TcCounters } from '../../src/tc/model';
import { classKey } from '../../src/tc/identity';
import { RateEstimator, snapshot } from '../../src/traffic/snapshot';
import { renderPeerMetrics } from '../../src/metrics/peerText';
import { renderStatus } from '../../src/cli/format/status';
import { renderTop } from '../../src/cli/format/top';
import { demoPolicyFor } from '../support/policy';

const loaded = parsePolicyTexts([{ path: 'destinations.yaml', text: readFileSync('policies/destinations/destinations.yaml', 'utf8') }]);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
const policy = loaded.policy;
const compiled = compilePolicy(policy);
const sets = compiled.peerSets!;
const set = (name: string) => sets.find((s) => s.name === name)!;
const at = (container: string) => compiled.containers.findIndex((c) => c.name === container);
const key = (r: CompiledClassRef): string => classKey(r.netns, r.dev, r.classid);
const counters = (bytes: number): TcCounters => ({ bytes, packets: bytes / 1000, drops: 0, overlimits: 0, requeues: 0, backlogBytes: 0, qlen: 0 });

/** crawler downloads `cluster` bytes from the cluster and `internet` from the internet; the sets' classes count the same. */
function observed(cluster: number, internet: number): ObservedState {
  const i = at('crawler');
  return {
    ...compiled.state,
    stats: new Map([
      [key(set('cluster').containers[i]!.download), counters(cluster)],
      [key(set('internet').containers[i]!.download), counters(internet)],
      [key(set('cluster').classes.download), counters(cluster)],
      [key(set('internet').classes.download), counters(internet)],
    ]),
  };
}

/** Two snapshots a second apart: 2 MB then 3 MB from the cluster (8 Mbit/s), 1 MB then 1.5 MB from the internet (4 Mbit/s). */
function twoSeconds() {
  const rates = new RateEstimator(1);
  snapshot(compiled, observed(2_000_000, 1_000_000), policy.host, rates, 0);
  return snapshot(compiled, observed(3_000_000, 1_500_000), policy.host, rates, 1000);
}

describe('destinations: the snapshot per peer set', () => {
  it('has a row per container, set and direction with its rates in the set, and a row per set and direction', () => {
    const snap = twoSeconds();
    expect(snap.peers).toHaveLength(compiled.containers.length * sets.length * 2);
    expect(snap.peerSets).toHaveLength(sets.length * 2);
    const crawlerInternet = snap.peers!.find((r) => r.container === 'crawler' && r.peer === 'internet' && r.direction === 'download')!;
    expect(crawlerInternet).toMatchObject({ bytes: 1_500_000, guarantee: 30e6 });
    expect(crawlerInternet.rate).toBeCloseTo(4e6, -3);
    const internet = snap.peerSets!.find((r) => r.peer === 'internet' && r.direction === 'download')!;
    expect(internet).toMatchObject({ isDefault: true, ceiling: 100e6, guarantee: 30e6 + 10e6 + 20e6, bytes: 1_500_000 });
  });

  it("makes a container's own row its total over the sets (not its class in the default set)", () => {
    const row = twoSeconds().rows.find((r) => r.container === 'crawler' && r.direction === 'download')!;
    expect(row.bytes).toBe(4_500_000);
    expect(row.rate).toBeCloseTo(12e6, -3);
  });

  it('leaves a snapshot without peer sets as it was: no peer rows', () => {
    const flat = demoPolicyFor('tp-');
    const snap = snapshot(compilePolicy(flat), { ...compiled.state, stats: new Map() }, flat.host, new RateEstimator(), 0);
    expect(snap.peers).toBeUndefined();
    expect(renderPeerMetrics(snap)).toBe('');
  });
});

describe('destinations: metrics per peer set', () => {
  it('labels the per-set container series with peer and keeps the sets in sluice_peer_set_*', () => {
    const text = renderPeerMetrics(twoSeconds());
    expect(text).toContain('sluice_container_peer_bytes_total{container="crawler",peer="internet",direction="download"} 1500000\n');
    expect(text).toContain('sluice_container_peer_guarantee_bytes_per_second{container="crawler",peer="internet",direction="download"} 3750000\n');
    expect(text).toContain('sluice_peer_set_bytes_total{peer="cluster",direction="download"} 3000000\n');
    expect(text).toContain('sluice_peer_set_capacity_bytes_per_second{peer="internet",direction="upload"} 12500000\n');
    // Every family announced once, before its samples.
    expect(text.match(/^# TYPE /gm)).toHaveLength(12);
  });
});

describe('destinations: status and top per peer set', () => {
  it('status prints each direction by peer set: the set, then its containers by rate', () => {
    const out = renderStatus(twoSeconds());
    expect(out).toContain('download by peer set');
    expect(out).toContain('upload by peer set');
    const block = out.slice(out.indexOf('download by peer set'), out.indexOf('upload ('));
    const names = block.split('\n').map((l) => l.split('│')[1]?.slice(1).trimEnd() ?? '').filter((n) => /\w/.test(n) && !n.includes('peer set'));
    expect(names.slice(0, 2)).toEqual(['cluster', '  crawler']);
    expect(names).toContain('internet (default)');
    expect(names[names.indexOf('internet (default)') + 1]).toBe('  crawler');
  });

  it('top lists the sets and their containers after the totals rows', () => {
    const out = renderTop(twoSeconds(), 'test', 120);
    expect(out).toContain('peer set / container');
    expect(out).toMatch(/internet \(default\)\s+download/);
    expect(out).toMatch(/ {2}crawler\s+download/);
  });
});
