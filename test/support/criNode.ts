// A Kubernetes node without the kubelet: containerd's CRI plugin (test/support/containerd.ts)
// with a conflist of the reference bridge + host-local plugins into which the sluice
// plugin is chained the way deploy/kubernetes/install-cni.js chains it, and `sluice serve`
// (in-process, restartable, with an ownership record on disk as a real one keeps) for a
// Host whose bridge is the bridge plugin's. The tests and bench/peers drive pods through
// CRI as the kubelet would.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Applier } from '../../src/apply/applier';
import { Daemon, type DaemonHooks } from '../../src/daemon/serve';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatPolicyIssue } from '../../src/policy/load';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { PolicyLoader } from '../../src/sources/loader';
import { buildContainer } from '../../src/wiring/container';
import { silentLogger } from '../../src/ports/logger';
import { FileOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { TOKENS } from '../../src/wiring/tokens';
import { systemClock } from '../../src/ports/clock';
import type { Logger } from '../../src/ports/logger';
import { ContainerdBed } from './containerd';
import { installCni, NODE_PLUGIN_FROM_SOURCE, quietly, SHIM } from './installCni';

export interface CriNodeOptions {
  /** The node's namespace: containerd runs there and the bridge plugin makes its bridge there. */
  readonly netns: string;
  readonly bridge: string;
  readonly ifb: string;
  readonly subnet: string;
  readonly gateway: string;
  /** The conflist's name; the Host's cni.network. */
  readonly network: string;
  /** Link capacity each way, in tc units ("200mbit"). */
  readonly capacity: string;
  readonly overcommit?: 'reject' | 'scale-by-priority';
  /** The plugin chained after bridge: sluice (installed as install-cni.js does), the reference bandwidth plugin, or none. */
  readonly chained: 'sluice' | 'bandwidth' | 'none';
  /** The pods' cgroup parent. */
  readonly cgroupParent: string;
  /** What sluice-node runs when serve does not answer (default: this checkout's source under tsx). */
  readonly nodePlugin?: string;
  /** Where the plugin records pods (default: under the bed's directory). */
  readonly stateDir?: string;
}

export class CriNode {
  readonly bed: ContainerdBed;
  readonly stateDir: string;
  readonly controlSocket: string;
  readonly policyDir: string;
  private readonly ownershipDir: string;
  private serving: { daemon: Daemon; reconciler: Reconciler; kernel: RtnlKernel } | undefined;
  /** serve ran at some point: its ownership record says what to destroy. */
  private served = false;

  constructor(readonly options: CriNodeOptions) {
    this.bed = new ContainerdBed({ netns: options.netns, cgroupParent: options.cgroupParent, referencePlugins: ['bridge', 'host-local', ...(options.chained === 'bandwidth' ? ['bandwidth'] : [])] });
    this.stateDir = options.stateDir ?? join(this.bed.dir, 'sluice', 'cni');
    this.controlSocket = join(this.bed.dir, 'sluice', 'sluice.sock');
    this.policyDir = join(this.bed.dir, 'sluice', 'policy');
    this.ownershipDir = join(this.bed.dir, 'sluice', 'owned');
  }

  get netns(): string {
    return this.options.netns;
  }

  /** The conflist and the plugin installed, the Host written, containerd started (serve is started apart). */
  async setUp(): Promise<void> {
    const o = this.options;
    for (const d of [this.policyDir, this.ownershipDir]) mkdirSync(d, { recursive: true });
    const bridge = { type: 'bridge', bridge: o.bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet, gateway: o.gateway }]], dataDir: join(this.bed.dir, 'ipam') } };
    const plugins: Record<string, unknown>[] = [bridge, ...(o.chained === 'bandwidth' ? [{ type: 'bandwidth', capabilities: { bandwidth: true } }] : [])];
    mkdirSync(this.bed.confDir, { recursive: true });
    writeFileSync(join(this.bed.confDir, `10-${o.network}.conflist`), JSON.stringify({ cniVersion: '1.0.0', name: o.network, plugins }));
    if (o.chained === 'sluice') {
      mkdirSync(this.bed.binDir, { recursive: true });
      installCni.installExecutables(this.bed.binDir, SHIM, o.nodePlugin ?? NODE_PLUGIN_FROM_SOURCE, quietly);
      installCni.chainIntoFirstConflist(this.bed.confDir, { ...installCni.SLUICE_PLUGIN, stateDir: this.stateDir, controlSocket: this.controlSocket }, quietly);
    }
    writeFileSync(join(this.policyDir, 'host.yaml'), [
      'apiVersion: sluice.dev/v1',
      'kind: Host',
      'metadata: { name: cri-node }',
      `spec: { netns: ${o.netns}, bridge: ${o.bridge}, ifb: ${o.ifb}, subnet: ${o.subnet}, gateway: ${o.gateway}, capacity: { download: ${o.capacity}, upload: ${o.capacity} }, overcommit: ${o.overcommit ?? 'reject'}, cni: { stateDir: ${this.stateDir}, network: ${o.network} } }`,
      '',
    ].join('\n'));
    await this.bed.setUp();
  }

  /** `sluice serve` for the node's Host: a fresh kernel port and daemon, the ownership record on disk (a restart adopts it). */
  async startServe(tickMs: number, logger: Logger = silentLogger, hooks: DaemonHooks = {}): Promise<{ daemon: Daemon; reconciler: Reconciler; kernel: RtnlKernel; applier: Applier }> {
    if (this.serving) throw new Error('serve already runs');
    const loader = buildContainer({ paths: [this.policyDir] }).get<PolicyLoader>(TOKENS.PolicyLoader);
    const loaded = await loader.load();
    if (!loaded.ok) throw new Error(loaded.issues.map(formatPolicyIssue).join('\n'));
    const kernel = new RtnlKernel({ followChanges: true });
    const applier = new Applier(kernel, new FileOwnershipStore(this.ownershipDir), nativeProbe, await detectFeatures());
    const reconciler = new Reconciler(applier, systemClock, logger);
    const daemon = new Daemon(reconciler, loader, systemClock, logger, { paths: [this.policyDir], tickMs, controlSocket: this.controlSocket }, hooks);
    this.serving = { daemon, reconciler, kernel };
    this.served = true;
    await daemon.start(loaded.policy, loaded.unshaped);
    return { daemon, reconciler, kernel, applier };
  }

  /** Stops serve as SIGTERM does: enforcement stays. */
  async stopServe(): Promise<void> {
    const s = this.serving;
    this.serving = undefined;
    if (!s) return;
    await s.daemon.stop();
    await s.kernel.close();
  }

  /** Pods first (their DEL through serve), then serve, what it made, and the runtime. */
  async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    await this.bed.removeAllPods().catch((e: unknown) => errors.push(e));
    await this.stopServe().catch((e: unknown) => errors.push(e));
    if (this.served) {
      const destroyer = new RtnlKernel();
      try {
        await new Applier(destroyer, new FileOwnershipStore(this.ownershipDir), nativeProbe, await detectFeatures()).destroy('cri-node');
      } catch (e) {
        errors.push(e);
      } finally {
        await destroyer.close();
      }
    }
    await this.bed.tearDown().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new Error(`tearing down the CRI node: ${errors.map((e) => (e as Error).message).join('; ')}`);
  }
}
