// What the container daemons of the test beds (dockerd and its containerd, the CRI
// containerd, podman) make outside the directories they are given, and its removal once
// the daemon is gone. Shared by the Docker test bed (here, for `sluice demo --docker`) and
// the test support (test/support/containerd.ts, test/cni/podman.kernel.test.ts).
// test/support/leftovers.ts is the check that none of it stays after a kernel run.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Directories a daemon makes at a fixed path whatever its configuration says: containerd
 * 1.6 puts its shims' sockets under /run/containerd/s (shim.SocketAddress ignores its
 * state dir), dockerd its plugin sockets under /run/docker/plugins. Those missing before
 * the daemon started are removed after it stopped, deepest first and only when empty: a
 * directory that existed before belongs to whoever made it (a host daemon), one that is
 * not empty is still in use.
 */
export class DefaultDirs {
  private constructor(private readonly missing: readonly string[]) {}

  /** Records which of `dirs` (parents before children) do not exist now. */
  static before(dirs: readonly string[]): DefaultDirs {
    return new DefaultDirs(dirs.filter((d) => !existsSync(d)));
  }

  /** Removes the recorded directories that exist and are empty now. */
  release(): void {
    for (const dir of [...this.missing].reverse()) if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  }
}

/** containerd 1.6's shims' socket directory (any containerd's: dockerd's own, the CRI bed's), with its parent. */
export const CONTAINERD_SHIM_DIRS: readonly string[] = ['/run/containerd', '/run/containerd/s'];

/**
 * libcni (containerd's CRI plugin, podman's CNI backend) caches each attachment's result
 * under /var/lib/cni/results; neither exposes libcni's cache directory in its
 * configuration. DEL removes the entry, the directories stay: DefaultDirs for them.
 */
export const CNI_CACHE_DIRS: readonly string[] = ['/var/lib/cni', '/var/lib/cni/results'];

/** Mount points at or below `dir` (mountinfo's fifth field, octal escapes decoded), deepest first. */
export function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/** libmount (umount's library) makes its utab directory here at its first use. */
const LIBMOUNT_DIR = '/run/mount';

/** Lazily unmounts `point`; a failure is ignored (it may be gone already). */
export async function unmount(point: string): Promise<void> {
  const libmountDir = DefaultDirs.before([LIBMOUNT_DIR]);
  await promisify(execFile)('umount', ['-l', point]).catch(() => undefined);
  libmountDir.release();
}

/** Lazily unmounts everything at or below `dir`, so that it can be removed. */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await unmount(point);
}

/** A cgroup parent (cgroupfs syntax, e.g. "sl-docker") and everything under it, in every hierarchy (cgroup v1 controllers, or v2), deepest first. */
export function removeCgroupTree(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  for (const root of roots) removeTree(join(root, parent));
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  rmdirSync(dir);
}

/** A daemon's log's last lines, for an error message: the log goes with the bed's directory. */
export function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
