// cgroup v1 net_cls: a cgroup's sockets carry `net_cls.classid`, which Sluice's BPF
// classifier turns into an HTB class. Plain files, so no netlink here.

import { mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { KernelError, PathEscapeError, PermissionError } from '../errors';
import { lackingHere } from './capabilities';
import type { TcHandle } from '../tc/handle';
import { asHandle } from '../tc/handle';
import { OWNED_PREFIX, type CgroupClassidObject } from '../tc/model';

const ENOENT = 2;

/** Where the net_cls hierarchy is mounted, from /proc/mounts; undefined when it is not. */
export function netclsRoot(mounts = readFileSync('/proc/mounts', 'utf8')): string | undefined {
  for (const line of mounts.split('\n')) {
    const [, dir, fstype, opts] = line.split(' ');
    if (fstype === 'cgroup' && dir && opts?.split(',').some((o) => o === 'net_cls')) return dir;
  }
  return undefined;
}

/** Where Sluice mounts net_cls when nothing has (the conventional place). */
export const NETCLS_MOUNT = '/sys/fs/cgroup/net_cls';

/** The net_cls root, mounting it first if no hierarchy is mounted (issue #5). */
export function ensureNetclsRoot(mount: (target: string) => void): string {
  const root = netclsRoot();
  if (root !== undefined) return root;
  mount(NETCLS_MOUNT);
  return netclsRoot() ?? NETCLS_MOUNT;
}

function requireRoot(action: string, object: string): string {
  const root = netclsRoot();
  if (root !== undefined) return root;
  throw new KernelError(
    ENOENT, 'ENOENT', action, object, '-', 'no cgroup v1 net_cls hierarchy is mounted',
    'mount it: `mkdir -p /sys/fs/cgroup/net_cls && mount -t cgroup -o net_cls net_cls /sys/fs/cgroup/net_cls`, or use per-address matching',
  );
}

export function writeCgroupClassid(o: CgroupClassidObject, action: 'create' | 'change'): void {
  const root = requireRoot(action, `cgroup ${o.cgroup}`);
  const dir = cgroupDir(root, o.cgroup);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new PermissionError(`create cgroup ${o.cgroup} under ${root}`, lackingHere(['CAP_DAC_OVERRIDE']));
    throw e;
  }
  cgroupDir(root, o.cgroup, realpathSync);
  writeFileSync(join(dir, 'net_cls.classid'), `${o.classid >>> 0}\n`);
}

/** rmdir: the kernel refuses (EBUSY) while processes are still in the cgroup, which is the safe answer. */
export function removeCgroup(o: CgroupClassidObject): void {
  const root = requireRoot('delete', `cgroup ${o.cgroup}`);
  // rmdir does not follow a link in the last component, so the lexical check suffices.
  rmdirSync(cgroupDir(root, o.cgroup));
}

/**
 * The cgroup's directory, refused when it lies outside the net_cls root: as written
 * (".." segments), or once `resolve` (realpath) has followed any link.
 */
export function cgroupDir(root: string, cgroup: string, resolve: (p: string) => string = (p) => p): string {
  const dir = join(root, cgroup);
  const resolved = resolve(dir);
  const rel = relative(resolve(root), resolved);
  if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) throw new PathEscapeError('cgroup', cgroup, resolved, root);
  return dir;
}

/** Sluice's cgroups (top-level `sl-*` directories) and their classids; none when net_cls is not mounted. */
export function observeCgroups(): CgroupClassidObject[] {
  const root = netclsRoot();
  if (root === undefined) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith(OWNED_PREFIX))
    .map((d) => ({ type: 'cgroup-classid' as const, cgroup: d.name, classid: readClassid(join(root, d.name)) }));
}

const readClassid = (dir: string): TcHandle => asHandle(Number(readFileSync(join(dir, 'net_cls.classid'), 'utf8').trim()));
