// metrics: a real Prometheus server (Debian's package) scrapes a running daemon on
// loopback; the increase PromQL reports through its HTTP API agrees with the bytes the test drove,
// and promtool accepts the exposition.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import { policyLoader } from '../support/sources';
import { Daemon } from '../../src/daemon/serve';
import { buildSandbox, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { PEER_LINK, PEER_NETNS, peerState } from '../../src/demo/peer';
import { TrafficRig } from '../../src/demo/traffic';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { createMetrics, startMetricsServer } from '../../src/metrics/metrics';
import { l2OverheadFactor } from '../../src/measure/overhead';
import { Reconciler } from '../../src/reconcile/reconciler';
import { describeKernel, promtoolCheck, removeNamespaces } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';
import type { Server } from 'node:http';

const METRICS = '127.0.0.1:19617';
const PROM = '127.0.0.1:19090';
const policy = demoPolicyFor('mx-');
async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The value of an instant PromQL query with one series in its answer, if it has one. */
async function promQuery(query: string): Promise<number | undefined> {
  const res = (await (await fetch(`http://${PROM}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data?: { result?: { value: [number, string] }[] } };
  const value = res.data?.result?.[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

/**
 * The increase since t0, once two answers more than a scrape interval and a tick apart
 * agree: by then Prometheus has scraped a counter that holds the last byte.
 */
async function settledIncrease(counter: string, t0: number): Promise<number> {
  let last: number | undefined;
  for (let tries = 0; tries < 15; tries++) {
    await new Promise((r) => setTimeout(r, 1600));
    const now = await promQuery(`${counter} - ${counter} offset ${Date.now() - t0}ms`).catch(() => undefined);
    if (now !== undefined && now > 0 && now === last) return now;
    last = now;
  }
  throw new Error(`Prometheus's answer for ${counter} did not settle in 24 s`);
}

describeKernel('metrics scraped by a real Prometheus', ['prometheus'], () => {
  let kernel: RtnlKernel;
  let deps: DemoDeps;
  let daemon: Daemon;
  let http: Server;
  let prometheus: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sl-prom-'));

  beforeAll(async () => {
    await removeNamespaces('sl-mx-');
    kernel = new RtnlKernel();
    const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
    deps = { kernel, applier };
    await buildSandbox(deps, policy, () => undefined);
    const reconciler = new Reconciler(applier, systemClock, silentLogger, { extra: peerState(policy.host) });
    const metrics = createMetrics({ snapshot: () => reconciler.current.snapshot }, 'test');
    http = await startMetricsServer(METRICS, metrics);
    daemon = new Daemon(reconciler, policyLoader([]), systemClock, silentLogger, { paths: [], tickMs: 500 }, { onTick: (r) => metrics.observeTick(r) });
    await daemon.start(policy);
    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n    static_configs:\n      - targets: ['${METRICS}']\n`);
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${PROM}`], { stdio: 'ignore' });
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await daemon?.stop();
    http?.close();
    await teardownDemo(deps, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces('sl-mx-');
    rmSync(dir, { recursive: true, force: true });
  });

  it('metrics: the bytes PromQL counts for a container agree with the traffic driven; promtool accepts the exposition', async () => {
    const text = await (await fetch(`http://${METRICS}/metrics`)).text();
    expect(await promtoolCheck(text)).toEqual({ code: 0, complaints: '' });

    // Bytes, not a rate over a short window: the counter moves on the daemon's ticks and
    // Prometheus samples it on its own clock, so a rate() over a few seconds aliases by a
    // tick's worth (±15% at 500 ms ticks in 3 s). Idle before and after the traffic, the
    // counter's increase over the whole run is exact whatever the alignment.
    const web = { name: 'web', netns: `sl-mx-web`, address: '198.18.0.10' };
    const counter = `sluice_container_bytes_total{container="web",direction="download"}`;
    await waitFor('a first scrape', async () => (await promQuery(counter)) ?? undefined, 20_000);
    const rig = await TrafficRig.start({ peerNetns: PEER_NETNS, peerAddress: PEER_LINK.peer, containers: [web], directions: ['download'] });
    let payload = 0;
    const t0 = Date.now();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const before = rig.receivedBytes('download').get('web') ?? 0;
      rig.setActive('download', ['web']);
      await new Promise((r) => setTimeout(r, 6000));
      rig.setActive('download', []);
      await new Promise((r) => setTimeout(r, 1500));
      payload = (rig.receivedBytes('download').get('web') ?? 0) - before;
    } finally {
      await rig.stop();
    }
    const counted = await settledIncrease(counter, t0);
    const wire = payload * l2OverheadFactor();
    console.log(`Prometheus counted ${(counted / 1e6).toFixed(2)} MB vs loadgen ${(wire / 1e6).toFixed(2)} MB at L2 (${(payload / 1e6).toFixed(2)} MB of payload)`);
    expect(payload).toBeGreaterThan(0);
    expect(Math.abs(counted / wire - 1)).toBeLessThan(0.02);
  }, 90_000);
});
