// A CNI runtime for kernel tests, doing what containerd's and CRI-O's libcni do (Debian
// ships no cnitool): a conflist of the reference bridge + host-local plugins chained with
// sluice, each plugin run with the CNI_* environment and its configuration on stdin, its
// output piped as the next one's prevResult, runtimeConfig filled only for the
// capabilities a plugin declares (runtimeConfig.bandwidth exactly as containerd's CRI
// plugin fills it), DEL in reverse order. The CNI "host" is the sl-cnihost namespace (the
// plugins run inside it, so the bridge is made there); pods are sl-cnipod-*. The plugin is
// installed as install-cni.js installs it: the native `sluice` and the Node `sluice-node`.
// The real runtime is test/support/containerd.ts.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeBandwidth } from '../../src/cni/protocol';
import { asContainerdSends } from './containerd';
import { silentLogger, type Logger } from '../../src/ports/logger';
import { Applier as ApplierImpl, type Applier } from '../../src/apply/applier';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { ipToInt } from '../../src/net/ipv4';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { systemClock } from '../../src/ports/clock';
import { Daemon, type TickAfterChange } from '../../src/daemon/serve';
import { formatPolicyIssue } from '../../src/policy/load';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { CompiledPolicy } from '../../src/compile';
import { sh } from './kernel';
import { installCni, NODE_PLUGIN_FROM_SOURCE, quietly, SHIM } from './installCni';
import { policyLoader } from './sources';

export const CNI_HOST_NETNS = 'sl-cnihost';
export const CNI_BRIDGE = 'sl-cni0';
export const CNI_IFB = 'sl-cniifb0';
export const CNI_SUBNET = '198.18.40.0/24';
export const CNI_GATEWAY = '198.18.40.1';
export const CNI_NETWORK = 'sl-pods';
/** The link each way, as the test's Host writes it. */
export const CNI_CAPACITY = '100mbit';
/** Debian's containernetworking-plugins. */
export const REFERENCE_PLUGINS = '/usr/lib/cni';
const CHAIN_VERSION = '1.0.0';

export interface PodSpec {
  /** The pod's namespace is sl-cnipod-<name>. */
  readonly name: string;
  /** Its Kubernetes namespace (K8S_POD_NAMESPACE); default shop. */
  readonly namespace?: string;
  /** What kubernetes.io/ingress-bandwidth and egress-bandwidth say (bits/s). */
  readonly bandwidth?: RuntimeBandwidth;
  readonly annotations?: Record<string, string>;
}

export interface CniOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly json: Record<string, unknown> | undefined;
}

type PluginConf = Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> };

export class CniRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'sl-cni-'));
  readonly stateDir = join(this.dir, 'state');
  readonly controlSocket = join(this.dir, 'sluice.sock');
  readonly policyDir = join(this.dir, 'policy');
  private readonly binDir = join(this.dir, 'bin');
  private readonly results = new Map<string, Record<string, unknown>>();

  /** The namespaces, the sluice executable (this checkout's source, under the name the conflist's type says), the Host policy. */
  async setUp(): Promise<void> {
    await sh('mkdir', ['-p', this.binDir, this.policyDir]);
    // A runtime runs the executable named by "type" from its CNI bin directory.
    installCni.installExecutables(this.binDir, SHIM, NODE_PLUGIN_FROM_SOURCE, quietly);
    await sh('ip', ['netns', 'add', CNI_HOST_NETNS]);
    await sh('ip', ['-n', CNI_HOST_NETNS, 'link', 'set', 'lo', 'up']);
    writeFileSync(join(this.policyDir, 'host.yaml'), [
      'apiVersion: sluice.dev/v1',
      'kind: Host',
      'metadata: { name: cni-test }',
      `spec: { netns: ${CNI_HOST_NETNS}, bridge: ${CNI_BRIDGE}, ifb: ${CNI_IFB}, subnet: ${CNI_SUBNET}, gateway: ${CNI_GATEWAY}, capacity: { download: ${CNI_CAPACITY}, upload: ${CNI_CAPACITY} }, cni: { stateDir: ${this.stateDir}, network: ${CNI_NETWORK} } }`,
      '',
    ].join('\n'));
  }

  /** The conflist's plugins, as a node's /etc/cni/net.d/10-pods.conflist would list them. */
  plugins(): PluginConf[] {
    return [
      { type: 'bridge', bridge: CNI_BRIDGE, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: CNI_SUBNET, gateway: CNI_GATEWAY }]], dataDir: join(this.dir, 'ipam') } },
      { type: 'sluice', capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true }, stateDir: this.stateDir, controlSocket: this.controlSocket },
    ];
  }

  netnsOf = (pod: string): string => `sl-cnipod-${pod}`;
  containerId = (pod: string): string => `ctr${Buffer.from(pod).toString('hex')}`;

  async createPod(pod: string): Promise<void> {
    await sh('ip', ['netns', 'add', this.netnsOf(pod)]);
    await sh('ip', ['-n', this.netnsOf(pod), 'link', 'set', 'lo', 'up']);
  }

  /** ADD through the chain; returns the final result (the pod's address in ips[0]). */
  async add(pod: PodSpec): Promise<Record<string, unknown>> {
    let prev: Record<string, unknown> | undefined;
    for (const plugin of this.plugins()) {
      const out = await this.invoke('ADD', pod, plugin, prev);
      if (out.code !== 0 || !out.json) throw new Error(`ADD ${plugin.type} for ${pod.name} failed (${out.code}): ${out.stdout}`);
      prev = out.json;
    }
    this.results.set(pod.name, prev!);
    return prev!;
  }

  /** DEL in reverse order, each plugin given the cached ADD result. */
  async del(pod: PodSpec): Promise<CniOutcome[]> {
    const prev = this.results.get(pod.name);
    const outcomes: CniOutcome[] = [];
    for (const plugin of [...this.plugins()].reverse()) outcomes.push(await this.invoke('DEL', pod, plugin, prev));
    return outcomes;
  }

  /** CHECK in order; the first failure ends it, as libcni does. */
  async check(pod: PodSpec): Promise<CniOutcome> {
    const prev = this.results.get(pod.name);
    let last: CniOutcome = { code: 0, stdout: '', json: undefined };
    for (const plugin of this.plugins()) {
      last = await this.invoke('CHECK', pod, plugin, prev);
      if (last.code !== 0) return last;
    }
    return last;
  }

  /** GC as a CNI 1.1 runtime sends it to sluice (the Debian bridge plugin speaks 1.0 at most). */
  async gc(valid: readonly string[]): Promise<CniOutcome> {
    const conf = { cniVersion: '1.1.0', name: CNI_NETWORK, type: 'sluice', stateDir: this.stateDir, controlSocket: this.controlSocket, 'cni.dev/valid-attachments': valid.map((p) => ({ containerID: this.containerId(p), ifname: 'eth0' })) };
    return this.exec(join(this.binDir, 'sluice'), { CNI_COMMAND: 'GC', CNI_PATH: this.cniPath() }, JSON.stringify(conf));
  }

  /** The `sluice serve` of a node whose Host names the CNI bridge, ticking every `tickMs`. */
  async serve(applier: Applier, tickMs: number, tickAfterChange?: TickAfterChange): Promise<Daemon> {
    return (await this.serveWith(applier, tickMs, silentLogger, tickAfterChange)).daemon;
  }

  /** serve, and its reconciler (what it compiled). */
  async serveWith(applier: Applier, tickMs: number, logger: Logger = silentLogger, tickAfterChange?: TickAfterChange): Promise<{ daemon: Daemon; reconciler: Reconciler }> {
    const source = policyLoader([this.policyDir]);
    const loaded = await source.load();
    if (!loaded.ok) throw new Error(loaded.issues.map(formatPolicyIssue).join('\n'));
    const reconciler = new Reconciler(applier, systemClock, logger);
    const daemon = new Daemon(reconciler, source, systemClock, logger, { paths: [this.policyDir], tickMs, controlSocket: this.controlSocket, ...(tickAfterChange ? { tickAfterChange } : {}) });
    await daemon.start(loaded.policy, loaded.unshaped);
    daemon.stopWatching();
    return { daemon, reconciler };
  }

  private cniPath = (): string => `${REFERENCE_PLUGINS}:${this.binDir}`;

  private invoke(command: string, pod: PodSpec, plugin: PluginConf, prev: Record<string, unknown> | undefined): Promise<CniOutcome> {
    const { capabilities, ...rest } = plugin;
    const runtimeConfig: Record<string, unknown> = {};
    if (capabilities?.['bandwidth'] && pod.bandwidth) runtimeConfig['bandwidth'] = asContainerdSends(pod.bandwidth);
    if (capabilities?.['io.kubernetes.cri.pod-annotations'] && pod.annotations) runtimeConfig['io.kubernetes.cri.pod-annotations'] = pod.annotations;
    const conf = { cniVersion: CHAIN_VERSION, name: CNI_NETWORK, ...rest, ...(capabilities ? { capabilities } : {}), ...(Object.keys(runtimeConfig).length > 0 ? { runtimeConfig } : {}), ...(prev ? { prevResult: prev } : {}) };
    const env = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: this.containerId(pod.name),
      CNI_NETNS: `/run/netns/${this.netnsOf(pod.name)}`,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace ?? 'shop'};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${this.containerId(pod.name)}`,
      CNI_PATH: this.cniPath(),
    };
    const exe = plugin.type === 'sluice' ? join(this.binDir, 'sluice') : join(REFERENCE_PLUGINS, plugin.type);
    return this.exec(exe, env, JSON.stringify(conf));
  }

  /** Runs a plugin inside the CNI host namespace, config on stdin. */
  private exec(exe: string, env: Record<string, string>, stdin: string): Promise<CniOutcome> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn('ip', ['netns', 'exec', CNI_HOST_NETNS, exe], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        resolvePromise({ code: code ?? 1, stdout: stdout + (stderr ? `\nstderr: ${stderr}` : ''), json });
      });
      child.stdin.end(stdin);
    });
  }

  /** Removes the namespaces and files this rig made (pods first); safe to call twice. */
  async tearDown(): Promise<void> {
    for (const ns of (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!)) {
      if (ns.startsWith('sl-cnipod-')) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    await sh('ip', ['netns', 'del', CNI_HOST_NETNS]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The class a u32 filter on `bridge` sends `address` to (download), if Sluice shapes it. */
export async function classOnBridge(kernel: RtnlKernel, netns: string, bridge: string, address: string): Promise<number | undefined> {
  const observed = await kernel.observe({ netns: [netns], withStats: false, external: [{ netns, dev: bridge }] });
  const key = ipToInt(address);
  const filter = observed.filters.find((f) => f.dev === bridge && f.spec.kind === 'u32' && f.spec.classid !== undefined && f.spec.keys.some((k) => k.mask === 0xffffffff && k.value === key));
  return filter?.spec.kind === 'u32' ? filter.spec.classid : undefined;
}

export { until } from './kernel';

/** What each CNI test works with: the runtime rig, a kernel port following changes, an Applier over it, and serve's daemon once a test starts one. */
export interface CniTestbed {
  readonly rig: CniRig;
  kernel: RtnlKernel;
  applier: Applier;
  daemon: Daemon | undefined;
}

/**
 * The testbed for one describe: set up before its tests, and after them the daemon
 * stopped, `beforeTearDown` run (say, DELs of the pods still attached), the host
 * destroyed and the rig's namespaces removed.
 */
export function cniTestbed(beforeTearDown?: (bed: CniTestbed) => Promise<void>): CniTestbed {
  const bed = { rig: new CniRig(), daemon: undefined } as CniTestbed;
  beforeAll(async () => {
    await bed.rig.tearDown().catch(() => undefined);
    await bed.rig.setUp();
    bed.kernel = new RtnlKernel({ followChanges: true });
    bed.applier = new ApplierImpl(bed.kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  }, 60_000);
  afterAll(async () => {
    await bed.daemon?.stop();
    await beforeTearDown?.(bed);
    await bed.applier?.destroy('cni-test').catch(() => undefined);
    await bed.kernel?.close();
    await bed.rig.tearDown();
  }, 60_000);
  return bed;
}

/**
 * serve started on the bed (a 1 s tick), then each pod made and ADDed through the chain,
 * then a reload queued after the ones the plugin's pokes asked for: what serve compiled
 * then has every pod.
 */
export async function servePods(bed: CniTestbed, pods: readonly PodSpec[]): Promise<{ daemon: Daemon; compiled: CompiledPolicy }> {
  const served = await bed.rig.serveWith(bed.applier, 1000);
  bed.daemon = served.daemon;
  for (const p of pods) {
    await bed.rig.createPod(p.name);
    await bed.rig.add(p);
  }
  if (!(await served.daemon.reload('test'))) throw new Error('serve did not reload after the pods were added');
  return { daemon: served.daemon, compiled: served.reconciler.current.compiled! };
}
