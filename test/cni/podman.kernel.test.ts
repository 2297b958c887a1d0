// Podman 4.3 as a second real runtime, with its CNI backend (network_backend = "cni")
// and a conflist chaining bridge + host-local + sluice, all inside the sl-podhost
// namespace (podman runs under nsenter --net, so its bridge is made there; its storage
// and configuration are this test's own). The image is the Docker test bed's debootstrapped
// root file system, imported; no registry. `podman run` → shaped by serve within a tick;
// `podman rm` → unshaped, record gone.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { systemClock } from '../../src/ports/clock';
import { silentLogger } from '../../src/ports/logger';
import { Daemon } from '../../src/daemon/serve';
import { Reconciler } from '../../src/reconcile/reconciler';
import { ensureRootfs, TESTBED } from '../../src/sources/docker/testbed';
import { CNI_CACHE_DIRS, DefaultDirs, removeCgroupTree, unmountUnder } from '../../src/sources/testbedCleanup';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { classOnBridge, until } from '../support/cni';
import { describeKernel, sh } from '../support/kernel';
import { policyLoader } from '../support/sources';

const run = promisify(execFile);
const NETNS = 'sl-podhost';
const BRIDGE = 'sl-pod0';
const NETWORK = 'sl-pods';
const IMAGE = 'localhost/sl-iperf3:local';
/** Kept across runs: it caches the imported image (c/storage's images; no containers outlive the test). */
const GRAPH_ROOT = '/var/lib/sl-podman';
/**
 * Everything else podman makes goes under its run root, removed after the test: its
 * storage run root, its tmp_dir (default /run/libpod) with the file locks that replace its
 * shm locks (default /dev/shm/libpod_lock), and runc's state root (default /run/runc).
 */
const RUN_ROOT = '/run/sl-podman';
/**
 * podman's database (static_dir: <graph root>/libpod once the graph root is set; its
 * containers.conf setting is then not honoured). It records tmp_dir and refuses a run with
 * another one ("database configuration mismatch"): one made before tmp_dir moved here
 * names /run/libpod. Nothing in it outlives the test, so each run starts a new one.
 */
const DATABASE_DIR = join(GRAPH_ROOT, 'libpod');
/** runc with its state root under RUN_ROOT (default /run/runc). */
const RUNC = join(RUN_ROOT, 'bin', 'runc');
/** The containers' cgroup parent (podman's cgroupfs default is /libpod_parent, conmon's cgroup under it), removed after the test. */
const CGROUP_PARENT = 'sl-podman';

describeKernel('podman with its CNI backend, chaining sluice', ['podman', 'nsenter', 'debootstrap'], () => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-podman-'));
  const stateDir = join(dir, 'state');
  const controlSocket = join(dir, 'sluice.sock');
  const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
  const podman = async (...args: string[]): Promise<string> => (await run('nsenter', [`--net=/run/netns/${NETNS}`, 'podman', ...args], { env, maxBuffer: 16 << 20 })).stdout;
  let kernel: RtnlKernel;
  let applier: Applier;
  let daemon: Daemon | undefined;
  let cniCache: DefaultDirs | undefined;

  const classOf = (address: string): Promise<number | undefined> => classOnBridge(kernel, NETNS, BRIDGE, address);

  beforeAll(async () => {
    await ensureRootfs((line) => console.log(line));
    cniCache = DefaultDirs.before(CNI_CACHE_DIRS);
    const bin = join(dir, 'bin');
    for (const d of [bin, join(dir, 'net.d'), join(dir, 'policy')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(bin, 'sluice'), `#!/bin/sh\nexec ${resolve('node_modules/.bin/tsx')} ${resolve('src/cni/main.ts')}\n`);
    chmodSync(join(bin, 'sluice'), 0o755);
    // runc's state root is a flag of runc's and containers.conf has no setting for it.
    // `podman --runtime-flag root=…` on each call still left /run/runc in one run of three
    // (most likely the `podman container cleanup` that conmon runs when the container
    // exits: it is given podman's settings, not that flag). So the runtime podman knows
    // as runc is this wrapper, in every podman process.
    mkdirSync(dirname(RUNC), { recursive: true });
    writeFileSync(RUNC, `#!/bin/sh\nexec runc --root ${join(RUN_ROOT, 'runc')} "$@"\n`);
    chmodSync(RUNC, 0o755);
    writeFileSync(env.CONTAINERS_CONF, [
      '[containers]', 'default_ulimits = []',
      '[network]', 'network_backend = "cni"', `network_config_dir = "${join(dir, 'net.d')}"`, `cni_plugin_dirs = ["${bin}", "/usr/lib/cni"]`, `default_network = "${NETWORK}"`,
      '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', 'runtime = "runc"',
      `tmp_dir = "${join(RUN_ROOT, 'libpod')}"`, 'lock_type = "file"',
      '[engine.runtimes]', `runc = ["${RUNC}"]`, '',
    ].join('\n'));
    writeFileSync(env.CONTAINERS_STORAGE_CONF, ['[storage]', 'driver = "vfs"', `graphroot = "${GRAPH_ROOT}"`, `runroot = "${RUN_ROOT}"`, ''].join('\n'));
    rmSync(DATABASE_DIR, { recursive: true, force: true });
    writeFileSync(join(dir, 'net.d', `${NETWORK}.conflist`), JSON.stringify({
      cniVersion: '1.0.0',
      name: NETWORK,
      plugins: [
        { type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.44.0/24', gateway: '198.18.44.1' }]], dataDir: join(dir, 'ipam') } },
        { type: 'sluice', capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true }, stateDir, controlSocket },
      ],
    }));
    writeFileSync(join(dir, 'policy', 'host.yaml'), `apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: podman-test }\nspec: { netns: ${NETNS}, bridge: ${BRIDGE}, ifb: sl-podifb0, subnet: 198.18.44.0/24, capacity: { download: 100mbit, upload: 100mbit }, cni: { stateDir: ${stateDir}, network: ${NETWORK}, defaults: { guarantee: 2mbit } } }\n`);
    await sh('ip', ['netns', 'add', NETNS]);
    await sh('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    if (!(await podman('images', '--format', '{{.Repository}}:{{.Tag}}')).includes(IMAGE)) await podman('import', TESTBED.rootfsCache, IMAGE);
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  }, 300_000);

  afterAll(async () => {
    await podman('rm', '-f', '-t', '0', '--ignore', 'sl-pm-web').catch(() => undefined);
    await daemon?.stop();
    await applier?.destroy('podman-test').catch(() => undefined);
    await kernel?.close();
    await sh('ip', ['netns', 'del', NETNS]).catch(() => undefined);
    await unmountUnder(RUN_ROOT);
    rmSync(RUN_ROOT, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    cniCache?.release();
    removeCgroupTree(CGROUP_PARENT);
  }, 120_000);

  it('podman run → shaped by serve within a tick; podman rm → unshaped and forgotten', async () => {
    const loader = policyLoader([join(dir, 'policy')]);
    const loaded = await loader.load();
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    daemon = new Daemon(new Reconciler(applier, systemClock, silentLogger), loader, systemClock, silentLogger, { paths: [dir], tickMs: 60_000, controlSocket });
    await daemon.start(loaded.policy);
    daemon.stopWatching();

    await podman('run', '-d', '--name', 'sl-pm-web', '--cgroup-parent', `/${CGROUP_PARENT}`, IMAGE, 'sleep', '600');
    const address = (await podman('inspect', 'sl-pm-web', '--format', `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`)).trim();
    expect(address).toMatch(/^198\.18\.44\.\d+$/);
    await until(`${address} shaped`, async () => (await classOf(address)) !== undefined);
    expect(await sh('tc', ['-n', NETNS, 'class', 'show', 'dev', BRIDGE])).toMatch(/rate 2Mbit ceil 100Mbit/);
    expect(readdirSync(join(stateDir, NETWORK)).filter((f) => f.endsWith('.json'))).toHaveLength(1);

    await podman('rm', '-f', '-t', '0', 'sl-pm-web');
    await until(`${address} unshaped`, async () => (await classOf(address)) === undefined);
    expect(readdirSync(join(stateDir, NETWORK)).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 120_000);
});
