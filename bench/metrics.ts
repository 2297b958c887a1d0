// bench/metrics: what a Prometheus scrape costs at 1,000 and 10,000 containers. The
// first scrape after each reconcile tick (a new snapshot) renders the per-container text
// and compresses it; later scrapes until the next tick serve the cached gzip plus
// prom-client's daemon metrics. Both over HTTP, as Prometheus asks (gzip accepted).
// Targets: scrape <= 20 ms at 1,000 containers and <= 100 ms at 10,000.
//   npx tsx bench/metrics.ts

import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createMetrics, startMetricsServer } from '../src/metrics/metrics';
import type { TrafficSnapshot } from '../src/traffic/snapshot';
import { bitsPerSec } from '../src/units/units';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'metrics',
  usage: `bench/metrics: what a Prometheus scrape costs at 1,000 and 10,000 containers (first after a tick, and cached), over HTTP
  npx tsx bench/metrics.ts   (no kernel, no lock)
  --help  this text`,
});

function snapshotOf(n: number, tick: number): TrafficSnapshot {
  const rows = [];
  for (let i = 0; i < n; i++) {
    for (const direction of ['download', 'upload'] as const) {
      // Every container busy: each counter moves every tick, rates are smoothed (fractional).
      rows.push({ container: `c${i}`, direction, guarantee: bitsPerSec(1e6), ceiling: bitsPerSec(1e9), priority: i % 8, bytes: 1e9 + i * tick, packets: 1e6 + i * tick, drops: tick % 3, overlimits: i * tick, backlogBytes: (i * tick) % 1500, lends: i * tick, borrows: 2 * i * tick, rate: bitsPerSec(1e6 + i + tick / 3) });
    }
  }
  return { at: tick, host: 'bench', capacity: { download: bitsPerSec(10e9), upload: bitsPerSec(10e9) }, rows, groups: [] };
}

function scrape(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

const TICKS = 15;
const TARGET_MS: Record<number, number> = { 1000: 20, 10000: 100 };

async function main(): Promise<void> {
  for (const [i, n] of [1000, 10000].entries()) {
    let snap = snapshotOf(n, 1);
    const metrics = createMetrics({ snapshot: () => snap }, 'bench');
    const server = await startMetricsServer(`127.0.0.1:${19700 + i}`, metrics);
    const url = `http://127.0.0.1:${19700 + i}/metrics`;
    const firsts: number[] = [];
    const scrapes: number[] = [];
    let size = 0;
    let wire = 0;
    for (let tick = 2; tick < 2 + TICKS; tick++) {
      snap = snapshotOf(n, tick);
      metrics.observeTick({ at: Date.now(), durationMs: 5, operations: 0, driftRepairs: 0, windows: [] });
      for (let s = 0; s < 3; s++) {
        const t0 = performance.now();
        // As Prometheus asks: gzip accepted; time until the whole (compressed) body is in.
        // The first scrape after a tick renders the new snapshot and compresses it.
        const body = await scrape(url);
        (s === 0 ? firsts : scrapes).push(performance.now() - t0);
        size = gunzipSync(body).length;
        wire = body.length;
      }
    }
    server.close();
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const series = size > 0 ? n * 2 * 11 : 0;
    console.log(`${n} containers (~${series} per-container series): first scrape after a new snapshot (render + gzip) median ${med(firsts).toFixed(1)} ms (max ${Math.max(...firsts).toFixed(1)}, target ${TARGET_MS[n]} ms); later scrapes (cached) median ${med(scrapes).toFixed(1)} ms; ${(size / 1024 / 1024).toFixed(1)} MiB of text, ${(wire / 1024 / 1024).toFixed(2)} MiB gzipped on the wire`);
  }
}

void main();
