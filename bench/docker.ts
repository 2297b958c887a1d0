// bench/docker: how long from `docker start` to the container being shaped, with
// `sluice serve` following the daemon's events (ticks 60 s apart, so only events count),
// and from `docker kill` to its classes being gone. One container with io.sluice.*
// labels on a bridge network of the test daemon (src/sources/docker/testbed.ts).
// Run as root: npx tsx bench/docker.ts [cycles=30]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Applier } from '../src/apply/applier';
import { silentLogger } from '../src/ports/logger';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { systemClock } from '../src/ports/clock';
import { Daemon } from '../src/daemon/serve';
import { policyLoader } from '../test/support/sources';
import { ensureImage, TestDaemon, TESTBED } from '../src/sources/docker/testbed';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { ipToInt } from '../src/net/ipv4';
import { Reconciler } from '../src/reconcile/reconciler';
import { createContainer, createNetwork, hostYaml, removeNetwork, type TestNetwork } from '../test/support/docker';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'docker',
  usage: `bench/docker: from \`docker start\` to the container shaped by \`sluice serve\`, and from \`docker kill\` to its classes gone
  flock /run/sluice-dev.lock npx tsx bench/docker.ts [cycles]   (root; starts the test dockerd: under the lock)
  cycles  start/kill cycles (30)
  --help  this text`,
  positionals: { max: 1, pattern: /^\d+$/ },
});

const NET: TestNetwork = { name: 'sl-bench-net', bridge: 'sl-dbr7', subnet: '198.18.67.0/24', gateway: '198.18.67.1' };
const cycles = Number(process.argv[2] ?? 30);

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const summary = (xs: number[]): string => `median ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

async function main(): Promise<void> {
  const testDaemon = await TestDaemon.ensure((l) => console.log(l));
  const dir = mkdtempSync(join(tmpdir(), 'sl-bench-docker-'));
  const kernel = new RtnlKernel();
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  let daemon: Daemon | undefined;
  try {
    await ensureImage(testDaemon.endpoint, (l) => console.log(l));
    await createNetwork(NET);
    writeFileSync(join(dir, 'host.yaml'), hostYaml('bench-docker', NET, 'sl-ifb7', true));
    const container = await createContainer('sl-bench-c', NET, { 'io.sluice.name': 'c', 'io.sluice.download.guarantee': '10mbit', 'io.sluice.upload.guarantee': '10mbit' });
    const source = policyLoader([dir]);
    const loaded = await source.load();
    if (!loaded.ok) throw new Error('policy');
    daemon = new Daemon(new Reconciler(applier, systemClock, silentLogger), source, systemClock, silentLogger, { paths: [dir], tickMs: 60_000 });
    await daemon.start(loaded.policy);
    daemon.stopWatching();
    const shaped = async (address: string): Promise<boolean> => {
      const observed = await kernel.observe({ netns: [TESTBED.netns], withStats: false });
      return observed.filters.some((f) => f.dev === NET.bridge && f.spec.kind === 'u32' && f.spec.keys.some((k) => k.mask === 0xffffffff && k.value === ipToInt(address)));
    };
    const waitFor = async (want: boolean, address: string): Promise<void> => {
      const end = performance.now() + 15_000;
      while ((await shaped(address)) !== want) if (performance.now() > end) throw new Error('timed out');
    };
    const startCall: number[] = [];
    const toShaped: number[] = [];
    const afterCall: number[] = [];
    const toUnshaped: number[] = [];
    for (let i = 0; i < cycles; i++) {
      const t0 = performance.now();
      await container.start();
      const t1 = performance.now();
      const address = (await container.inspect()).NetworkSettings.Networks[NET.name]!.IPAddress;
      await waitFor(true, address);
      const t2 = performance.now();
      startCall.push(t1 - t0);
      toShaped.push(t2 - t0);
      afterCall.push(t2 - t1);
      const t3 = performance.now();
      await container.kill();
      await waitFor(false, address);
      toUnshaped.push(performance.now() - t3);
    }
    console.log(`\n${cycles} cycles, serve following events (tick 60 s):`);
    console.log(`  docker start call (the API returns once the container runs): ${summary(startCall)}`);
    console.log(`  docker start call → shaped (class + filter in the kernel):   ${summary(toShaped)}`);
    console.log(`  start call returned → shaped (Sluice's share):               ${summary(afterCall)}`);
    console.log(`  docker kill call → classes and filters gone:                ${summary(toUnshaped)}`);
  } finally {
    await daemon?.stop();
    await applier.destroy('bench-docker').catch(() => undefined);
    await removeNetwork(NET.name).catch(() => undefined);
    await kernel.close();
    await testDaemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
