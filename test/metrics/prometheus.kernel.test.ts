// metrics: a real Prometheus server (Debian's package) scrapes a running daemon on
// loopback; a PromQL rate() through its HTTP API agrees with the traffic the test drove,
// and promtool accepts the exposition.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/app/ownership';
import { nativeProbe } from '../../src/app/runtime';
import { silentLogger } from '../../src/app/logger';
import { systemClock } from '../../src/app/tokens';
import { PolicySource } from '../../src/docker/policySource';
import { Daemon } from '../../src/daemon/serve';
import { buildSandbox, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { PEER_LINK, PEER_NETNS, peerState } from '../../src/demo/peer';
import { TrafficRig } from '../../src/demo/traffic';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { createMetrics, startMetricsServer } from '../../src/metrics/metrics';
import { goodputToWireRate } from '../../src/measure/overhead';
import { Reconciler } from '../../src/reconcile/reconciler';
import { isRoot, removeNamespaces } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';
import type { Server } from 'node:http';

const METRICS = '127.0.0.1:19617';
const PROM = '127.0.0.1:19090';
const policy = demoPolicyFor('mx-');
const havePrometheus = (): boolean => {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!isRoot || !havePrometheus())('metrics scraped by a real Prometheus', () => {
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
    daemon = new Daemon(reconciler, new PolicySource([]), systemClock, silentLogger, { paths: [], tickMs: 500 }, { onTick: (r) => metrics.observeTick(r) });
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

  it('metrics: PromQL rate of a container agrees with the traffic driven; promtool accepts the exposition', async () => {
    const text = await (await fetch(`http://${METRICS}/metrics`)).text();
    const check = spawn('promtool', ['check', 'metrics']);
    check.stdin.end(text);
    let complaints = '';
    check.stdout.on('data', (d: Buffer) => (complaints += d.toString()));
    check.stderr.on('data', (d: Buffer) => (complaints += d.toString()));
    const code = await new Promise<number | null>((r) => check.on('exit', r));
    expect(complaints).toBe('');
    expect(code).toBe(0);

    const web = { name: 'web', netns: `sl-mx-web`, address: '198.18.0.10' };
    const rig = await TrafficRig.start({ peerNetns: PEER_NETNS, peerAddress: PEER_LINK.peer, containers: [web], directions: ['download'] });
    let goodput = 0;
    try {
      const from = rig.setActive('download', ['web']);
      await new Promise((r) => setTimeout(r, 9000));
      const to = rig.setActive('download', []);
      goodput = rig.goodput('download', from, to, 2000).get('web') ?? 0;
    } finally {
      await rig.stop();
    }
    const query = `max_over_time(rate(sluice_container_bytes_total{container="web",direction="download"}[4s])[6s:1s])`;
    const promRate = await waitFor('a PromQL answer', async () => {
      const res = (await (await fetch(`http://${PROM}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data?: { result?: { value: [number, string] }[] } };
      const v = Number(res.data?.result?.[0]?.value[1]);
      return v > 0 ? v : undefined;
    }, 20_000);
    const wire = goodputToWireRate(goodput as never);
    console.log(`Prometheus rate ${((promRate * 8) / 1e6).toFixed(2)} mbit/s (L2) vs loadgen ${(wire / 1e6).toFixed(2)} mbit/s (goodput ${(goodput / 1e6).toFixed(2)} → L2)`);
    expect(Math.abs((promRate * 8) / wire - 1)).toBeLessThan(0.1);
  }, 90_000);
});
