// Sluice on a bench/peers node as it runs beside a CNI runtime: the `sluice` plugin in the
// CNI bin directory, chained after bridge + host-local, and `sluice serve` (in-process,
// as test/cni's kernel tests run it) for a Host whose bridge is the bridge plugin's and
// whose `cni:` section reads the plugin's records.
//
// The plugin is this checkout's src/cni bundled into one file by esbuild and run by node,
// the way the installed plugin runs (node + compiled JavaScript): a runtime starts a
// process per plugin per pod, so running it through tsx would add its TypeScript start
// (about 0.6 s here) to every ADD and the setup rows would measure tsx, not the plugin.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { Applier } from '../../src/apply/applier';
import { shapingProblems } from '../../src/cni/check';
import { Daemon } from '../../src/daemon/serve';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatPolicyIssue } from '../../src/policy/load';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { PolicyLoader } from '../../src/sources/loader';
import { buildContainer } from '../../src/wiring/container';
import { silentLogger } from '../../src/ports/logger';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { TOKENS } from '../../src/wiring/tokens';
import { systemClock } from '../../src/ports/clock';
import type { BitsPerSec } from '../../src/units/units';

/** The ADD path's shaping comes from the plugin's poke; a tick this long never does it. */
const TICK_MS = 60_000;
const POLL_MS = 5;

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
  /** Resolves once every address has its download and upload classes, as CHECK reads them. */
  shaped(addresses: readonly string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function bundlePlugin(outfile: string): void {
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

function installPlugin(wiring: NodeWiring): string {
  const binDir = path.join(wiring.dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const bundle = path.join(binDir, 'sluice-cni.js');
  bundlePlugin(bundle);
  // A runtime runs the executable its "type" names from the CNI bin directory.
  writeFileSync(path.join(binDir, 'sluice'), `#!/bin/sh\nexec ${process.execPath} ${bundle}\n`);
  chmodSync(path.join(binDir, 'sluice'), 0o755);
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

/** Installs the plugin and starts `serve` for the node's Host (before any pod, as on a node). */
export async function startSluiceNode(wiring: NodeWiring): Promise<SluiceNode> {
  const binDir = installPlugin(wiring);
  const stateDir = path.join(wiring.dir, 'state');
  const controlSocket = path.join(wiring.dir, 'sluice.sock');
  const policyDir = writeHost(wiring, stateDir);
  const loader = buildContainer({ paths: [policyDir] }).get<PolicyLoader>(TOKENS.PolicyLoader);
  const loaded = await loader.load();
  if (!loaded.ok) throw new Error(loaded.issues.map(formatPolicyIssue).join('\n'));
  const kernel = new RtnlKernel({ followChanges: true });
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  const reconciler = new Reconciler(applier, systemClock, silentLogger);
  const daemon = new Daemon(reconciler, loader, systemClock, silentLogger, { paths: [policyDir], tickMs: TICK_MS, controlSocket });
  const probe = new RtnlKernel();
  try {
    await daemon.start(loaded.policy);
    daemon.stopWatching();
  } catch (e) {
    await Promise.all([kernel.close(), probe.close()]);
    throw e;
  }
  const problems = async (addresses: readonly string[]): Promise<string[]> => {
    const state = await probe.observe({ netns: [wiring.host], withStats: false, external: [{ netns: wiring.host, dev: wiring.bridge }] });
    return shapingProblems(state, wiring.bridge, addresses);
  };
  return {
    binDir,
    stateDir,
    controlSocket,
    async shaped(addresses, timeoutMs = 30_000) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        const missing = await problems(addresses);
        if (missing.length === 0) return;
        if (performance.now() > end) throw new Error(`Sluice did not shape the pods within ${timeoutMs} ms: ${missing.join('; ')}`);
        await sleep(POLL_MS);
      }
    },
    async stop() {
      await daemon.stop();
      await applier.destroy('peers').catch(() => undefined);
      await Promise.all([kernel.close(), probe.close()]);
    },
  };
}
