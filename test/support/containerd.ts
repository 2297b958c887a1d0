// A CRI test bed as the kubelet uses it: Debian's containerd (its CRI plugin built in) and
// runc, with a configuration, root, state, socket, runc state root and pod cgroup parent
// of the bed's own, running inside its own sl- network namespace, where the CNI plugins
// it calls make their bridge. The host's namespaces, interfaces and /etc are never
// touched. The sandbox (pause) image is built here from test/support/cri/pause.c and
// imported with `ctr` (no registry is reachable). Pods are started through CRI
// (criClient.ts), and everything is torn down afterwards, also after a failure: the
// pods, the daemon and its shims, their mounts, cgroups, state and the namespace.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UNSET_BURST_BITS, type RuntimeBandwidth } from '../../src/cni/protocol';
import { createNetns, deleteNetns, netnsExists } from '../../src/kernel/native';
import { CNI_CACHE_DIRS, CONTAINERD_SHIM_DIRS, DefaultDirs, logTail, removeCgroupTree, unmountUnder } from '../../src/sources/testbedCleanup';
import { CriClient, type PodSandboxSpec, type SandboxStatus } from './criClient';

/** The sandbox image containerd's CRI plugin runs as every pod's first container. */
export const SANDBOX_IMAGE = 'localhost/sl-pause:local';
const PAUSE_SOURCE = join(__dirname, 'cri', 'pause.c');
/** containerd's CRI plugin keeps its images and containers in this containerd namespace. */
const K8S_NAMESPACE = 'k8s.io';
/** Debian's containernetworking-plugins. */
export const REFERENCE_CNI = '/usr/lib/cni';
const START_TIMEOUT_MS = 30_000;

export interface ContainerdBedOptions {
  /** The network namespace containerd (and so every CNI plugin it runs) lives in; created and removed by the bed. */
  readonly netns: string;
  /** The pods' cgroup parent (cgroupfs syntax), removed afterwards. */
  readonly cgroupParent: string;
  /** Reference plugins linked into the bed's CNI bin directory (loopback always: containerd runs it for every pod). */
  readonly referencePlugins?: readonly string[];
}

export interface RunningPod {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  /** The pod's network namespace, a path under the bed's state directory. */
  readonly netns: string;
}

export class ContainerdBed {
  readonly dir = mkdtempSync(join(tmpdir(), 'sl-cri-'));
  /** The CNI bin directory (containerd's `bin_dir`): the reference plugins, and whatever the test installs. */
  readonly binDir = join(this.dir, 'bin');
  /** containerd's CNI `conf_dir`: it loads the first file. */
  readonly confDir = join(this.dir, 'net.d');
  readonly socket = join(this.dir, 'containerd.sock');
  readonly log = join(this.dir, 'containerd.log');
  private readonly root = join(this.dir, 'root');
  private readonly state = join(this.dir, 'state');
  private daemon: ChildProcess | undefined;
  private client: CriClient | undefined;
  private createdNetns = false;
  /** Its shims' socket directory and libcni's cache, when this bed made them. */
  private defaultDirs: DefaultDirs | undefined;

  constructor(readonly options: ContainerdBedOptions) {}

  get netns(): string {
    return this.options.netns;
  }

  /** The namespace, the directories, the reference plugins and the sandbox image (imported at the first start). */
  async setUp(): Promise<void> {
    for (const d of [this.binDir, this.confDir, this.root, this.state]) mkdirSync(d, { recursive: true });
    for (const plugin of ['loopback', ...(this.options.referencePlugins ?? ['bridge', 'host-local'])]) symlinkSync(join(REFERENCE_CNI, plugin), join(this.binDir, plugin));
    if (!netnsExists(this.netns)) {
      createNetns(this.netns);
      this.createdNetns = true;
    }
    await sh('ip', ['-n', this.netns, 'link', 'set', 'lo', 'up']);
    this.defaultDirs = DefaultDirs.before([...CONTAINERD_SHIM_DIRS, ...CNI_CACHE_DIRS]);
    writeFileSync(join(this.dir, 'config.toml'), this.config());
    await this.start();
    await this.importSandboxImage();
  }

  private config(): string {
    return [
      'version = 2',
      `root = "${this.root}"`,
      `state = "${this.state}"`,
      // Snapshotters this bed does not use; fewer plugins, a quicker start.
      'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${this.socket}"`,
      '[ttrpc]',
      `  address = "${this.socket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(this.dir, 'opt')}"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${SANDBOX_IMAGE}"`,
      // Root here lacks CAP_SYS_RESOURCE: runc could not lower oom_score_adj below its own.
      '  restrict_oom_score_adj = true',
      // The pods' namespaces under the bed's state, not /run/netns: removed with it.
      '  netns_mounts_under_state_dir = true',
      '[plugins."io.containerd.grpc.v1.cri".cni]',
      `  bin_dir = "${this.binDir}"`,
      `  conf_dir = "${this.confDir}"`,
      '  max_conf_num = 1',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '  runtime_type = "io.containerd.runc.v2"',
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      `  Root = "${join(this.dir, 'runc')}"`,
      '',
    ].join('\n');
  }

  /** Starts containerd in the bed's namespace: nsenter --net only, so the pods' namespaces and mounts stay visible to this process. */
  async start(): Promise<void> {
    if (this.daemon) throw new Error('containerd already runs');
    const log = openSync(this.log, 'a');
    const child = spawn('nsenter', [`--net=/run/netns/${this.netns}`, 'containerd', '--config', join(this.dir, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.daemon = child;
    const client = new CriClient(this.socket);
    const end = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) break;
      try {
        await client.version();
        this.client = client;
        return;
      } catch {
        if (Date.now() > end) break;
        await sleep(50);
      }
    }
    client.close();
    await this.stop();
    throw new Error(`containerd did not answer on ${this.socket} within ${START_TIMEOUT_MS} ms; its log: ${this.log}\n${logTail(this.log)}`);
  }

  /** Stops the daemon (SIGTERM, as systemd does); pods and their shims keep running. */
  async stop(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    const child = this.daemon;
    this.daemon = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  get cri(): CriClient {
    if (!this.client) throw new Error('containerd is not running');
    return this.client;
  }

  /** What the kubelet does to start a pod: RunPodSandbox, then PodSandboxStatus for its address. */
  async runPod(pod: Omit<PodSandboxSpec, 'cgroupParent' | 'uid'> & { readonly uid?: string }): Promise<RunningPod> {
    const uid = pod.uid ?? createHash('sha1').update(`${pod.namespace}/${pod.name}`).digest('hex').slice(0, 32);
    const id = await this.cri.runPodSandbox({ ...pod, uid, cgroupParent: this.options.cgroupParent });
    const status = await this.status(id);
    if (!status.ip || !status.netns) throw new Error(`pod ${pod.namespace}/${pod.name} (${id}) has no address or namespace: ${JSON.stringify(status)}`);
    return { id, name: pod.name, namespace: pod.namespace, ip: status.ip, netns: status.netns };
  }

  status(id: string): Promise<SandboxStatus> {
    return this.cri.podSandboxStatus(id);
  }

  /** What the kubelet does when a pod goes: StopPodSandbox (CNI DEL), then RemovePodSandbox. */
  async removePod(id: string): Promise<void> {
    await this.cri.stopPodSandbox(id);
    await this.cri.removePodSandbox(id);
  }

  /** Every pod this containerd knows, stopped and removed (each tried, even after one fails). */
  async removeAllPods(): Promise<void> {
    if (!this.client) return;
    const errors: string[] = [];
    for (const pod of await this.cri.listPodSandbox()) await this.removePod(pod.id).catch((e: unknown) => errors.push(`${pod.namespace}/${pod.name}: ${(e as Error).message}`));
    if (errors.length > 0) throw new Error(`removing pods: ${errors.join('; ')}`);
  }

  /** The sandbox image: a static pause binary, packed as a docker-archive and imported with ctr. */
  private async importSandboxImage(): Promise<void> {
    const build = join(this.dir, 'image');
    const rootfs = join(build, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    await sh('gcc', ['-static', '-O2', '-o', join(rootfs, 'pause'), PAUSE_SOURCE]);
    await sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', join(build, 'layer.tar'), 'pause']);
    const config = JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      config: { Entrypoint: ['/pause'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(readFileSync(join(build, 'layer.tar')))}`] },
    });
    const configFile = `${sha256(Buffer.from(config))}.json`;
    writeFileSync(join(build, configFile), config);
    writeFileSync(join(build, 'manifest.json'), JSON.stringify([{ Config: configFile, RepoTags: [SANDBOX_IMAGE], Layers: ['layer.tar'] }]));
    await sh('tar', ['-C', build, '-cf', join(build, 'image.tar'), 'manifest.json', configFile, 'layer.tar']);
    await sh('ctr', ['--address', this.socket, '-n', K8S_NAMESPACE, 'images', 'import', join(build, 'image.tar')]);
  }

  /**
   * Removes everything the bed made, in order, each step also when an earlier one failed:
   * its pods through CRI (so the CNI plugins' DEL runs), the daemon, shims left behind,
   * mounts under its directory, the pods' cgroups, the directory, the namespace.
   */
  async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    const step = async (act: () => Promise<void> | void): Promise<void> => {
      try {
        await act();
      } catch (e) {
        errors.push(e);
      }
    };
    await step(() => this.removeAllPods());
    await step(() => this.stop());
    await step(() => killShims(this.socket));
    await step(() => unmountUnder(this.dir));
    await step(() => removeCgroupTree(this.options.cgroupParent));
    await step(() => rmSync(this.dir, { recursive: true, force: true }));
    // Empty once every shim and pod is gone; left alone if another containerd uses them.
    await step(() => this.defaultDirs?.release());
    if (this.createdNetns) await step(() => deleteNetns(this.netns));
    if (errors.length > 0) throw new Error(`tearing down the containerd bed: ${errors.map((e) => (e as Error).message).join('; ')}`);
  }
}

/**
 * runtimeConfig.bandwidth as containerd's CRI plugin fills it: a Go struct without JSON
 * tags (capitalised keys), both directions (0: none), and math.MaxUint32 bits of burst
 * for a direction the pod sets (Kubernetes has no burst annotation).
 */
export function asContainerdSends(b: RuntimeBandwidth): Record<string, number> {
  const burst = (rate: number | undefined, given: number | undefined): number => (rate ? (given ?? UNSET_BURST_BITS) : 0);
  return { IngressRate: b.ingressRate ?? 0, IngressBurst: burst(b.ingressRate, b.ingressBurst), EgressRate: b.egressRate ?? 0, EgressBurst: burst(b.egressRate, b.egressBurst) };
}

/** No vitest import here: bench/peers drives this bed too. */
const sh = async (cmd: string, args: readonly string[]): Promise<string> => (await promisify(execFile)(cmd, [...args], { maxBuffer: 16 << 20 })).stdout;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The runc shims this bed's containerd started (their -address is its socket); they outlive the daemon. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('containerd-shim-runc-v2') && args.includes(socket)) pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

async function killShims(socket: string): Promise<void> {
  const pids = shimPids(socket);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && shimPids(socket).length > 0; i++) await sleep(20);
}
