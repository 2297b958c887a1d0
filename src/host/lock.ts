// One writer per host. apply, destroy, demo and serve each take the lock of the host
// namespace they write to; a second writer is refused with the holder named, instead of
// two controllers undoing each other's changes.
//
// The lock is flock(2) on /run/sluice/locks/<netns>.lock, held on a descriptor that stays
// open for the writer's life. The kernel releases it when the holder exits in any way
// (SIGKILL, OOM, a crash), so there is no stale-holder guesswork: a pid file would have to
// tell a dead holder from a live process that was given the same pid. The file's content
// (pid, command, start time) only names the holder; the flock alone decides who holds it.
// Lock files are never unlinked: removing a locked file would let the next writer lock a
// new file of the same name while the old holder still runs.

import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { PermissionError, SluiceError } from '../errors';
import { tryLockExclusive } from '../kernel/native';
import { HOST_NETNS, type NetnsLocator } from '../tc/model';

/** Who holds a host: written into the lock file by the holder. */
export interface LockHolder {
  readonly pid: number;
  /** The command line, e.g. "sluice serve policies/demo.yaml". */
  readonly command: string;
  /** ISO time the lock was taken. */
  readonly since: string;
  /** For `serve`: the control socket it answers on. */
  readonly controlSocket?: string;
}

/** Another Sluice process writes to this host. */
export class HostBusyError extends SluiceError {
  readonly code = 'EBUSY';
  constructor(readonly netns: NetnsLocator, readonly holder: LockHolder | undefined, hint: string) {
    super(`host namespace ${describe(netns)} is managed by another Sluice process: ${holder ? `\`${holder.command}\` (pid ${holder.pid}, since ${holder.since})` : 'a process that has not written its name yet'}; two writers would undo each other's changes`, hint);
  }
}

const describe = (netns: NetnsLocator): string => (netns === HOST_NETNS ? '(the real host)' : netns);

export interface HostLock {
  readonly netns: NetnsLocator;
  release(): void;
}

/** Beside the ownership records, under /run: gone after a reboot, as every holder is. */
export const DEFAULT_LOCK_DIR = '/run/sluice/locks';

/** How the holder is named to others: the command line as typed, after `sluice`. */
export const commandLine = (): string => ['sluice', ...process.argv.slice(2)].join(' ');

/** The lock file for a host namespace: its name, or a path flattened to one file name. */
export function lockFileFor(netns: NetnsLocator, dir: string = DEFAULT_LOCK_DIR): string {
  const key = netns === HOST_NETNS ? 'host' : netns.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
  return join(dir, `${key}.lock`);
}

export interface LockRequest {
  readonly netns: NetnsLocator;
  readonly command: string;
  readonly controlSocket?: string;
  readonly dir?: string;
}

/** Takes the host's lock or throws HostBusyError naming the holder and what to do instead. */
export function acquireHostLock(request: LockRequest): HostLock {
  const dir = request.dir ?? DEFAULT_LOCK_DIR;
  const file = lockFileFor(request.netns, dir);
  const fd = openLockFile(dir, file);
  let held = false;
  try {
    held = tryLockExclusive(fd, file);
    if (!held) {
      const holder = readHolder(file);
      throw new HostBusyError(request.netns, holder, hintFor(request.command, holder));
    }
    const holder: LockHolder = { pid: process.pid, command: request.command, since: new Date().toISOString(), ...(request.controlSocket ? { controlSocket: request.controlSocket } : {}) };
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  } finally {
    if (!held) closeSync(fd);
  }
  let open = true;
  return {
    netns: request.netns,
    release: () => {
      if (!open) return;
      open = false;
      // Emptied first, so nobody reads a departed holder's name in the moment before close.
      ftruncateSync(fd, 0);
      closeSync(fd);
    },
  };
}

function openLockFile(dir: string, file: string): number {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Only root may write to a host; say that rather than "EACCES on a lock file".
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new PermissionError(`taking the host's writer lock (${file})`);
    throw e;
  }
}

/** Takes several hosts' locks (destroy), all or none. */
export function acquireHostLocks(netnses: Iterable<NetnsLocator>, command: string, dir?: string): HostLock[] {
  const locks: HostLock[] = [];
  try {
    for (const netns of new Set(netnses)) locks.push(acquireHostLock({ netns, command, ...(dir ? { dir } : {}) }));
    return locks;
  } catch (e) {
    for (const lock of locks) lock.release();
    throw e;
  }
}

/** The holder's record; empty for the moment between its flock and its write. */
export function readHolder(file: string): LockHolder | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text ? (JSON.parse(text) as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/** The exact command to use instead, given who holds the host. */
export function hintFor(wanted: string, holder: LockHolder | undefined): string {
  if (!holder) return 'wait for the other process to finish, then run the command again';
  const isServe = /(^|\s)serve(\s|$)/.test(holder.command);
  if (isServe && /(^|\s)apply(\s|$)/.test(wanted)) {
    return `serve applies its own policy files and repairs anything else: edit them and reload it with \`kill -HUP ${holder.pid}\`; or stop it with \`kill ${holder.pid}\` and run \`${wanted}\` again`;
  }
  if (isServe) return `stop it first with \`kill ${holder.pid}\` (enforcement stays in place), then run \`${wanted}\` again`;
  return `wait for it to finish (or stop it with \`kill ${holder.pid}\`), then run \`${wanted}\` again`;
}
