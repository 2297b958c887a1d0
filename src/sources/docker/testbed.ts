// The Docker test bed of `sluice demo --docker` and the Docker integration tests: a
// dockerd running inside its own sl-docker network namespace (so the host's iptables,
// bridges and sysctls are never touched), a locally built image (no registry is
// needed), and the compose project of docker-compose.test.yml. Processes are started
// with argument arrays, never through a shell.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { createNetns, deleteNetns, netnsExists } from '../../kernel/native';
import { packageFile } from '../../packageFiles';
import { CONTAINERD_SHIM_DIRS, DefaultDirs, logTail, mountsUnder, removeCgroupTree, unmount, unmountUnder } from '../testbedCleanup';
import { dockerClient, DockerodeEngine } from './engine';

export const TESTBED = {
  netns: 'sl-docker',
  endpoint: 'unix:///run/sl-docker.sock',
  /** dockerd's exec root (and its containerd's state), its pid file and log; removed when the daemon stops. */
  execRoot: '/run/sl-docker',
  /** Kept across runs: it caches the image. */
  dataRoot: '/var/lib/sl-docker',
  log: '/run/sl-docker/dockerd.log',
  /** The containers' cgroup parent (dockerd's default is /docker), removed when the daemon stops. */
  cgroupParent: 'sl-docker',
  image: 'sl-iperf3:local',
  /** The debootstrapped root file system, so a wiped data root re-imports in seconds. */
  rootfsCache: '/var/cache/sluice/sl-iperf3-rootfs.tar',
  composeFile: packageFile('docker-compose.test.yml'),
  project: 'sl-test',
} as const;

const pidfile = `${TESTBED.execRoot}/dockerd.pid`;
/** Made by dockerd (plugin sockets) and its containerd (shim sockets) whatever their exec root and state say. */
const DEFAULT_DIRS = ['/run/docker', '/run/docker/plugins', ...CONTAINERD_SHIM_DIRS];

export type Progress = (line: string) => void;

/** The test daemon: reused when one already answers, stopped at the end only if this run started it. */
export class TestDaemon {
  private constructor(
    readonly endpoint: string,
    /** Only a daemon this run started is stopped by it. */
    readonly startedHere: boolean,
    private readonly createdNetns: boolean,
    /** Recorded before the first launch: a restart finds them made by this daemon. */
    private readonly defaultDirs: DefaultDirs,
  ) {}

  static async ensure(progress: Progress): Promise<TestDaemon> {
    if (await answers(TESTBED.endpoint)) {
      progress(`using the Docker test daemon already running at ${TESTBED.endpoint}`);
      return new TestDaemon(TESTBED.endpoint, false, false, DefaultDirs.before([]));
    }
    const createdNetns = !netnsExists(TESTBED.netns);
    if (createdNetns) createNetns(TESTBED.netns);
    progress(`starting dockerd in network namespace ${TESTBED.netns} (API at ${TESTBED.endpoint}, log ${TESTBED.log})`);
    const daemon = new TestDaemon(TESTBED.endpoint, true, createdNetns, DefaultDirs.before(DEFAULT_DIRS));
    await daemon.launch();
    return daemon;
  }

  /** Starts dockerd again after stop({ keepNetns: true }) (a daemon that went away and came back). */
  async restart(): Promise<void> {
    if (!this.startedHere) throw new Error('the test daemon was not started by this run');
    await this.launch();
  }

  private async launch(): Promise<void> {
    await mkdir(TESTBED.execRoot, { recursive: true });
    await mkdir(TESTBED.dataRoot, { recursive: true });
    const log = openSync(TESTBED.log, 'a');
    // nsenter --net, not `ip netns exec`: the latter remounts /sys and dockerd then
    // cannot find the devices cgroup. No iptables, masquerading or docker0: the test
    // networks are reached from this namespace directly. live-restore: containers
    // outlive a daemon restart, as in production, so "the daemon went away" can be tested.
    const child = spawn('nsenter', [`--net=/run/netns/${TESTBED.netns}`, 'dockerd', '-H', TESTBED.endpoint, '--pidfile', pidfile, '--exec-root', `${TESTBED.execRoot}/exec`, '--data-root', TESTBED.dataRoot, '--cgroup-parent', `/${TESTBED.cgroupParent}`, '--iptables=false', '--ip-masq=false', '--bridge=none', '--live-restore'], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    for (let i = 0; i < 150; i++) {
      if (await answers(TESTBED.endpoint)) return;
      if (child.exitCode !== null) break;
      await sleep(200);
    }
    // Its log goes with the exec root when stop() removes it.
    const lastLines = logTail(TESTBED.log);
    await this.stop();
    throw new Error(`dockerd did not come up in 30 s; the end of its log:\n${lastLines}`);
  }

  /**
   * Stops dockerd (and its containerd) if this run started it, and removes its namespace.
   * Its containers go first (with live-restore they would outlive it), unless `keepContainers`.
   * Unless `keepNetns` (a restart follows), what the daemon made goes too: its exec root
   * and log, the containers' cgroup parent and the default directories it made.
   */
  async stop(options: { keepNetns?: boolean; keepContainers?: boolean } = {}): Promise<void> {
    if (!this.startedHere) return;
    if (!options.keepContainers) await removeAllContainers(this.endpoint).catch(() => undefined);
    const pid = readPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    // dockerd bind-mounts its data root onto itself (to make it private) and leaves it.
    if (mountsUnder(TESTBED.dataRoot).includes(TESTBED.dataRoot)) await unmount(TESTBED.dataRoot);
    if (options.keepNetns) return;
    if (this.createdNetns && netnsExists(TESTBED.netns)) deleteNetns(TESTBED.netns);
    await this.removeWhatItMade();
  }

  /** Each step also when an earlier one failed; the failures are thrown together after the last. */
  private async removeWhatItMade(): Promise<void> {
    const errors: Error[] = [];
    const steps = [
      // Its containers' network namespaces are bind mounts under the exec root.
      () => unmountUnder(TESTBED.execRoot),
      () => rm(TESTBED.execRoot, { recursive: true, force: true }),
      () => removeCgroupTree(TESTBED.cgroupParent),
      () => this.defaultDirs.release(),
    ];
    for (const step of steps) await Promise.resolve().then(step).catch((e: unknown) => errors.push(e as Error));
    if (errors.length > 0) throw new Error(`removing what the Docker test daemon made: ${errors.map((e) => e.message).join('; ')}`);
  }
}

async function removeAllContainers(endpoint: string): Promise<void> {
  const docker = dockerClient(endpoint);
  for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true });
}

/** Builds the test image (debootstrap, minbase + iperf3) unless the daemon has it. */
export async function ensureImage(endpoint: string, progress: Progress): Promise<void> {
  await ensureDebianImage(endpoint, TESTBED.image, TESTBED.rootfsCache, ['iperf3'], progress);
}

/** `image` in the daemon at `endpoint`, imported from a debootstrapped root (`tar`, built if missing) unless it has it. */
export async function ensureDebianImage(endpoint: string, image: string, tar: string, include: readonly string[], progress: Progress): Promise<void> {
  const docker = dockerClient(endpoint);
  try {
    await docker.getImage(image).inspect();
    return;
  } catch {
    // Missing: build it below.
  }
  await ensureRootfsTar(tar, include, progress);
  progress(`importing ${tar} as ${image}`);
  const [repo, tag] = image.split(':') as [string, string];
  const stream = await docker.importImage(createReadStream(tar) as unknown as string, { repo, tag });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}

/** The test image's root filesystem as a tar (Docker and Podman import it; built once). */
export async function ensureRootfs(progress: Progress): Promise<void> {
  await ensureRootfsTar(TESTBED.rootfsCache, ['iperf3'], progress);
}

/** A Debian bookworm minbase root filesystem (plus `include`) as a tar at `tar`, unless it is there. */
export async function ensureRootfsTar(tar: string, include: readonly string[], progress: Progress): Promise<void> {
  if (existsSync(tar)) return;
  const dir = `${tar}.d`;
  const mirror = debianMirror();
  const extra = include.length > 0 ? [`--include=${include.join(',')}`] : [];
  progress(`building ${tar}: debootstrap --variant=minbase ${extra.join(' ')} bookworm from ${mirror} (about a minute, once)`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(`${tar.replace(/\/[^/]+$/, '')}`, { recursive: true });
  try {
    await run('debootstrap', ['--variant=minbase', ...extra, 'bookworm', dir, mirror]);
    // The packages debootstrap downloaded (~32 MB) are installed; an image need not carry them.
    for (const deb of await readdir(`${dir}/var/cache/apt/archives`).catch(() => [])) if (deb.endsWith('.deb')) await rm(`${dir}/var/cache/apt/archives/${deb}`);
    await run('tar', ['-C', dir, '-cf', `${tar}.tmp`, '.']);
    await rename(`${tar}.tmp`, tar);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The mirror apt already uses (CI reaches Debian's packages only there). */
function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (uri && !uri.includes('security')) return uri;
  }
  return 'http://deb.debian.org/debian';
}

/** docker-compose (v1, from Debian) against the test daemon. */
export async function compose(endpoint: string, args: readonly string[]): Promise<void> {
  await run('docker-compose', ['-f', TESTBED.composeFile, '-p', TESTBED.project, ...args], { DOCKER_HOST: endpoint });
}

function run(command: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (e) => reject(new Error(`${command}: ${e.message} (is it installed? scripts/setup.sh installs it)`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.split('\n').slice(-15).join('\n')}`))));
  });
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    await new DockerodeEngine(endpoint).view();
    return true;
  } catch {
    return false;
  }
}

function readPid(): number | undefined {
  try {
    return Number(readFileSync(pidfile, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
