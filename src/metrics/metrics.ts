// The daemon's own metrics (prom-client) and the per-container families (cached text),
// served together on /metrics; /healthz says whether the last reconcile succeeded.

import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TickResult } from '../reconcile/reconciler';
import { UNSHAPED_REASONS, type UnshapedWorkload } from '../sources/source';
import type { TrafficSnapshot } from '../traffic/snapshot';
import { ContainerMetricsCache } from './containerText';
import { renderGroupMetrics } from './groupText';
import { renderPeerMetrics } from './peerText';

export interface SluiceMetrics {
  readonly registry: Registry;
  observeTick(result: TickResult): void;
  reloadFailed(): void;
  /** The workloads found running and not shaped (sluice_workload_unshaped{reason}). */
  observeUnshaped(unshaped: readonly UnshapedWorkload[]): void;
  /** The full exposition text. */
  render(): Promise<string>;
  /** The same, gzip-compressed (what Prometheus asks for); the per-container part is rendered and compressed once per snapshot. */
  renderGzip(): Promise<Buffer>;
  healthy(): { ok: boolean; lastSuccess: number | undefined; lastError?: string };
}

export interface MetricsSource {
  snapshot(): TrafficSnapshot | undefined;
}

export function createMetrics(source: MetricsSource, version: string, registry: Registry = new Registry()): SluiceMetrics {
  const duration = new Histogram({ name: 'sluice_reconcile_duration_seconds', help: 'Time one reconcile tick took (observe, diff, execute).', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
  const drift = new Counter({ name: 'sluice_drift_repairs_total', help: 'Kernel objects changed behind Sluice\'s back and restored.', registers: [registry] });
  const kernelErrors = new Counter({ name: 'sluice_kernel_errors_total', help: 'Reconcile ticks that failed, by error code.', labelNames: ['kind'], registers: [registry] });
  const reloads = new Counter({ name: 'sluice_policy_reload_failures_total', help: 'Policy reloads rejected by validation (the last good policy stayed).', registers: [registry] });
  const lastSuccess = new Gauge({ name: 'sluice_last_successful_reconcile_timestamp_seconds', help: 'When the kernel was last converged.', registers: [registry] });
  new Gauge({ name: 'sluice_build_info', help: 'Sluice version.', labelNames: ['version'], registers: [registry] }).set({ version }, 1);
  const capacity = new Gauge({ name: 'sluice_link_capacity_bytes_per_second', help: 'Link capacity per direction.', labelNames: ['direction'], registers: [registry] });
  const utilisation = new Gauge({ name: 'sluice_link_utilisation_ratio', help: 'Σ container rates / link capacity.', labelNames: ['direction'], registers: [registry] });
  const unshapedGauge = new Gauge({ name: 'sluice_workload_unshaped', help: 'Workloads a source found running that are not shaped, by reason (invalid: annotations that can never be valid; does-not-fit: guarantees over the link; no-address: not on the bridge).', labelNames: ['reason'], registers: [registry] });
  for (const reason of UNSHAPED_REASONS) unshapedGauge.set({ reason }, 0);
  const cache = new ContainerMetricsCache();
  const extra = smallFamiliesCache();
  let lastOk: number | undefined;
  let lastError: string | undefined;

  return {
    registry,
    observeTick(result) {
      duration.observe(result.durationMs / 1000);
      if (result.driftRepairs > 0) drift.inc(result.driftRepairs);
      if (result.error) {
        kernelErrors.inc({ kind: result.error.code });
        lastError = result.error.message;
      } else {
        lastOk = result.at;
        lastError = undefined;
        lastSuccess.set(result.at / 1000);
      }
      const snap = source.snapshot();
      if (snap) {
        for (const direction of ['download', 'upload'] as const) {
          const cap = snap.capacity[direction];
          capacity.set({ direction }, cap / 8);
          const total = snap.rows.filter((r) => r.direction === direction).reduce((s, r) => s + r.rate, 0);
          utilisation.set({ direction }, cap > 0 ? total / cap : 0);
        }
      }
    },
    reloadFailed() {
      reloads.inc();
    },
    observeUnshaped(unshaped) {
      for (const reason of UNSHAPED_REASONS) unshapedGauge.set({ reason }, unshaped.filter((u) => u.reason === reason).length);
    },
    async render() {
      const snap = source.snapshot();
      return (await registry.metrics()) + cache.get(snap) + extra.text(snap);
    },
    async renderGzip() {
      const snap = source.snapshot();
      const containers = cache.gzip(snap);
      const tail = extra.gzip(snap);
      return Buffer.concat([gzipSync(await registry.metrics(), { level: 1 }), await containers, ...(tail ? [tail] : [])]);
    },
    healthy() {
      return { ok: lastOk !== undefined && lastError === undefined, lastSuccess: lastOk, ...(lastError ? { lastError } : {}) };
    },
  };
}

/** The groups' and peer sets' families, rendered (and compressed) once per snapshot however often Prometheus scrapes. */
function smallFamiliesCache(): { text(snap: TrafficSnapshot | undefined): string; gzip(snap: TrafficSnapshot | undefined): Buffer | undefined } {
  let renderedFor: TrafficSnapshot | undefined | null = null;
  let text = '';
  let gzipped: Buffer | undefined;
  const refresh = (snap: TrafficSnapshot | undefined): void => {
    if (snap === renderedFor) return;
    renderedFor = snap;
    text = renderGroupMetrics(snap) + renderPeerMetrics(snap);
    gzipped = undefined;
  };
  return {
    text(snap) {
      refresh(snap);
      return text;
    },
    gzip(snap) {
      refresh(snap);
      if (text === '') return undefined;
      gzipped ??= gzipSync(text, { level: 1 });
      return gzipped;
    },
  };
}

/** Loopback by default: metrics reveal who talks how much. */
export async function startMetricsServer(address: string, metrics: SluiceMetrics): Promise<Server> {
  const [host, portText] = splitAddress(address);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      void (gzip ? metrics.renderGzip() : metrics.render()).then((body) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(body);
      });
    } else if (req.url === '/healthz') {
      const h = metrics.healthy();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
    } else {
      res.writeHead(404).end('see /metrics and /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => resolve());
  });
  return server;
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new RangeError(`metrics address "${address}" must be host:port, e.g. 127.0.0.1:9617`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}
