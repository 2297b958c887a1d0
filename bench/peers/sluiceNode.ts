// Sluice on a bench/peers node as it runs beside a CNI runtime: the `sluice` plugin in the
// CNI bin directory, chained after bridge + host-local, and `sluice serve` (the CLI from
// this checkout's source, in its own process as on a node) for a Host whose bridge is the
// bridge plugin's and whose `cni:` section reads the plugin's records. An in-process
// serve shared the bench's event loop, which every spawn of a plugin blocks for
// milliseconds (12 ms each under load, a third of the bench process's time).
//
// The plugin is installed as deploy/kubernetes/install-cni.js installs it: `sluice` is the
// native executable (native/shim), which hands ADD to serve and starts no Node; beside
// it `sluice-node`, the Node plugin it execs while serve does not answer. That one is
// this checkout's src/cni bundled into one file by esbuild and run by node, the way the
// installed plugin runs (node + compiled JavaScript): through tsx every fallback ADD
// would add its TypeScript start (about 0.6 s here).

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { shapingProblems } from '../../src/cni/check';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { requestControl } from '../../src/daemon/control';
import { STATE_DIR_ENV } from '../../src/ports/ownership';
import type { BitsPerSec } from '../../src/units/units';
import { installCni, quietly, SHIM } from '../../test/support/installCni';
import { addPhases } from './addPhases';

/** The ADD path's shaping comes from the plugin's ADD; a tick this long never does it. */
const TICK_MS = 60_000;
/**
 * How the bench runs serve: `timings` (`--timings`) logs each ADD's phases (debug), summed
 * up when the node stops; `nodeFlags` and `env` are extra node flags and environment
 * (bench/idleAdd compares them); `recordsParent` is where the plugin's state directory is
 * made (`--records-on`: a tmpfs by default, a disk-backed directory to measure what its
 * syncs cost there). Set before the node starts.
 */
export const serveRuntime: { timings: boolean; nodeFlags: readonly string[]; env: Readonly<Record<string, string>>; recordsParent: string } = {
  timings: process.argv.includes('--timings'),
  nodeFlags: [],
  env: {},
  recordsParent: '/dev/shm',
};
const POLL_MS = 2;
/** Asking serve whether its tick after a pod has run (each answer carries its snapshot: not every 2 ms). */
const SETTLED_POLL_MS = 50;

export interface NodeWiring {
  /** The CNI host namespace (the bridge plugin's bridge is made there). */
  readonly host: string;
  readonly bridge: string;
  readonly ifb: string;
  readonly subnet: string;
  readonly gateway: string;
  /** The conflist's network name; the Host's `cni.network`. */
  readonly network: string;
  readonly capacity: BitsPerSec;
  /** A scratch directory of this node (plugin, records, socket, policy). */
  readonly dir: string;
}

export interface SluiceNode {
  /** The directory holding the `sluice` executable (for CNI_PATH). */
  readonly binDir: string;
  readonly stateDir: string;
  readonly controlSocket: string;
  /** serve's log (JSON lines; debug with serveRuntime.timings). */
  readonly serveLog: string;
  /**
   * Resolves once every address has its download and upload classes, as CHECK reads them,
   * with the time (performance.now()) the read that found them started: they were in
   * the kernel by then. Not when it returned: a read of the namespace beside 100 pods
   * took tens of ms under load, racing serve's tick for the two cores.
   */
  shaped(addresses: readonly string[], timeoutMs?: number): Promise<number>;
  /** serve's tick after the last pod has run (ServeProcess.settled). */
  settled(sinceMs: number): Promise<void>;
  /** Stops serve alone (as SIGTERM does): enforcement stays, ADDs fall back to the Node plugin. */
  stopServe(): Promise<void>;
  stop(): Promise<void>;
}

/** The Node plugin as one file (its entry point runs itself when it is the main module). */
export function bundlePlugin(outfile: string): void {
  buildSync({
    // Its entry point, as tsx and the built bin run it (it starts itself when it is the main module).
    entryPoints: [path.resolve(__dirname, '..', '..', 'src', 'cni', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    logLevel: 'error',
  });
}

/** `node <bundle>`: the Node plugin of this checkout, bundled into `dir`. */
export function bundledNodePlugin(dir: string): string {
  const bundle = path.join(dir, 'sluice-cni.js');
  bundlePlugin(bundle);
  return `${process.execPath} ${bundle}`;
}

function installPlugin(wiring: NodeWiring): string {
  const binDir = path.join(wiring.dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  // A runtime runs the executable its "type" names from the CNI bin directory.
  installCni.installExecutables(binDir, SHIM, bundledNodePlugin(binDir), quietly);
  return binDir;
}

function writeHost(wiring: NodeWiring, stateDir: string): string {
  const policyDir = path.join(wiring.dir, 'policy');
  mkdirSync(policyDir, { recursive: true });
  const mbit = wiring.capacity / 1e6;
  writeFileSync(path.join(policyDir, 'host.yaml'), [
    'apiVersion: sluice.dev/v1',
    'kind: Host',
    'metadata: { name: peers }',
    `spec: { netns: ${wiring.host}, bridge: ${wiring.bridge}, ifb: ${wiring.ifb}, subnet: ${wiring.subnet}, gateway: ${wiring.gateway}, capacity: { download: ${mbit}mbit, upload: ${mbit}mbit }, overcommit: reject, cni: { stateDir: ${stateDir}, network: ${wiring.network} } }`,
    '',
  ].join('\n'));
  return policyDir;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CLI = path.join(__dirname, 'sluiceCli.ts');

/** Serve processes still running; killed however the bench ends. */
const serving = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of serving) c.kill('SIGKILL');
});

/** `sluice <args>` as its own process, its log in `log`, its ownership records in `ownedDir`. */
function sluice(args: readonly string[], log: string, ownedDir: string): ChildProcess {
  const fd = openSync(log, 'a');
  const env = { ...process.env, ...serveRuntime.env, [STATE_DIR_ENV]: ownedDir };
  const child = spawn(process.execPath, [...serveRuntime.nodeFlags, '--require', require.resolve('tsx/cjs'), CLI, ...args], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  return child;
}

const exited = (child: ChildProcess): Promise<number | null> => (child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code))));

/**
 * Where the plugin records pods: a tmpfs, as a node's /run/sluice/cni is (this VM's /run
 * is on its disk, where each record's two fsyncs took 3-7 ms), unless
 * serveRuntime.recordsParent names another directory (one on a disk, as /var/lib/cni is).
 */
export function recordsDir(scratch: string): string {
  return mkdtempSync(path.join(serveRuntime.recordsParent, `${path.basename(scratch)}-records-`));
}

export interface ServeProcess {
  /**
   * Resolves once serve says no tick is due (status's tickDue: every reload asked for is
   * done, and a tick that read the policy it set has finished): after a pod's ADD, the
   * tick after the change has run, so the node is settled and the next pod races nothing
   * of serve's. Not "a tick started after `sinceMs`", as it was: asked after the pod
   * (idleAdd's first wait, after the setup's last pod and its shaped() read), that tick
   * may have started already (at the end of a burst, TICK_AFTER_CHANGE_MAX_MS), and the
   * wait then met only the 60-s tick. `sinceMs` only dates the wait in the error.
   */
  settled(sinceMs: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM, as on a node: enforcement stays. */
  stop(): Promise<void>;
  /** Stopped, then what it made removed by its ownership record (`sluice destroy`). */
  destroy(): Promise<void>;
}

/**
 * Where serve records what it made: a tmpfs, as a node's /run/sluice is. On this VM's
 * disk each record's rename and syncs took 1.5 ms of an ADD (p90 5.5), on /dev/shm 0.8
 * (p90 2.4): a cost a node does not have.
 */
function ownershipDir(): string {
  return mkdtempSync(path.join('/dev/shm', 'sl-peers-owned-'));
}

/** `sluice serve` for the policy in `policyDir`, answering on `controlSocket` once it resolves. */
export async function startServe(policyDir: string, controlSocket: string, log: string): Promise<ServeProcess> {
  const ownedDir = ownershipDir();
  const daemon = sluice(['serve', policyDir, '--tick', String(TICK_MS), '--control-socket', controlSocket, '--metrics-address', 'off', '--log-level', serveRuntime.timings ? 'debug' : 'warn'], log, ownedDir);
  serving.add(daemon);
  const stop = async (): Promise<void> => {
    if (daemon.exitCode === null) daemon.kill('SIGTERM');
    await exited(daemon);
    serving.delete(daemon);
  };
  try {
    // Up once its control socket answers (its first tick may wait for the bridge the first pod brings).
    const end = performance.now() + 60_000;
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`sluice serve exited ${daemon.exitCode}; its log: ${log}`);
      if (await requestControl(controlSocket, { cmd: 'status' }, 500).then(() => true, () => false)) break;
      if (performance.now() > end) throw new Error(`sluice serve did not answer on ${controlSocket} within 60 s; its log: ${log}`);
      await sleep(50);
    }
  } catch (e) {
    await stop();
    rmSync(ownedDir, { recursive: true, force: true });
    throw e;
  }
  return {
    async settled(sinceMs, timeoutMs = 30_000) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        const status = await requestControl<{ lastTick?: { at: number }; tickDue?: boolean }>(controlSocket, { cmd: 'status' });
        if (status.tickDue === false) return;
        if (performance.now() > end) throw new Error(`sluice serve still had a tick due ${timeoutMs} ms after a pod (asked since ${new Date(sinceMs).toISOString()}; the last tick started ${status.lastTick ? new Date(status.lastTick.at).toISOString() : 'never'}); its log: ${log}`);
        await sleep(SETTLED_POLL_MS);
      }
    },
    stop,
    async destroy() {
      await stop();
      const code = await exited(sluice(['destroy', policyDir], log, ownedDir));
      if (code !== 0) throw new Error(`sluice destroy exited ${code}; its log: ${log}`);
      rmSync(ownedDir, { recursive: true, force: true });
    },
  };
}

/** Installs the plugin and starts `sluice serve` for the node's Host (before any pod, as on a node). */
export async function startSluiceNode(wiring: NodeWiring): Promise<SluiceNode> {
  const binDir = installPlugin(wiring);
  const stateDir = recordsDir(wiring.dir);
  const controlSocket = path.join(wiring.dir, 'sluice.sock');
  const policyDir = writeHost(wiring, stateDir);
  const serveLog = path.join(wiring.dir, 'serve.log');
  const serve = await startServe(policyDir, controlSocket, serveLog);
  // Following the namespace's change announcements: a poll while nothing changed costs a drain, not a full read (which would take CPU from serve).
  const probe = new RtnlKernel({ followChanges: true });
  const problems = async (addresses: readonly string[]): Promise<string[]> => {
    const state = await probe.observe({ netns: [wiring.host], withStats: false, external: [{ netns: wiring.host, dev: wiring.bridge }] });
    return shapingProblems(state, wiring.bridge, addresses);
  };
  return {
    binDir,
    stateDir,
    controlSocket,
    serveLog,
    async shaped(addresses, timeoutMs = 30_000) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        const readAt = performance.now();
        const missing = await problems(addresses);
        if (missing.length === 0) return readAt;
        if (performance.now() > end) throw new Error(`Sluice did not shape the pods within ${timeoutMs} ms: ${missing.join('; ')}`);
        await sleep(POLL_MS);
      }
    },
    settled: (sinceMs) => serve.settled(sinceMs),
    stopServe: () => serve.stop(),
    async stop() {
      await probe.close();
      if (serveRuntime.timings) console.error(addPhases(readFileSync(serveLog, 'utf8')));
      await serve.destroy();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
