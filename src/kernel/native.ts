// Typed wrapper of the native addon (native/src). Node cannot create namespaces, open a
// socket inside another namespace or load BPF; the addon does, on throwaway threads so
// no Node thread ever changes namespace. Addon failures (Errors with code/errno/syscall/
// path) become the typed errors of src/errors.ts here, and nowhere else.

import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import {
  FeatureMissingError,
  KernelError,
  NamespaceNotFoundError,
  PathEscapeError,
  PermissionError,
  SluiceError,
} from '../errors';
import { HOST_NETNS, type NetnsLocator } from '../tc/model';
import { lackingHere } from './capabilities';

/** Where `ip netns` keeps its namespace files. */
export const NETNS_RUN_DIR = '/run/netns';
const HOST_NETNS_PATH = '/proc/self/ns/net';

/** The loaded cls_bpf program behind the net_cls classid match. */
export interface BpfProgram {
  readonly fd: number;
  readonly name: string;
}

/** What draining a watch socket found: messages read, and whether the kernel dropped some. */
export interface NetlinkDrain {
  readonly messages: number;
  readonly overflowed: boolean;
}

/** What draining a directory watch found (native/src/dirwatch.cc). */
export interface DirWatchDrain {
  /** The entries events named since the last drain (repeats possible). */
  readonly names: readonly string[];
  /** The kernel's queue overflowed: events were lost. */
  readonly overflowed: boolean;
  /** The directory was removed or moved: the watch sees nothing more. */
  readonly gone: boolean;
}

/** The addon's exports, exactly as native/src/addon.cc registers them. */
interface NativeAddon {
  createNetns(name: string, ipv6: boolean, loopbackUp: boolean, autoconf: boolean): string;
  deleteNetns(name: string): void;
  openNetnsFd(path: string): number;
  closeFd(fd: number): void;
  writeSysctl(netnsPath: string, key: string, value: string): void;
  readSysctl(netnsPath: string, key: string): string;
  openNetlink(netnsPath: string): number;
  exchange(fd: number, messages: readonly Buffer[], seqs: readonly number[]): Promise<Buffer[]>;
  exchangeSync(fd: number, messages: readonly Buffer[], seqs: readonly number[]): Buffer[];
  openNetlinkWatch(netnsPath: string, groups: readonly number[]): number;
  drainNetlink(fd: number): NetlinkDrain;
  openDirWatch(path: string): number;
  drainDirWatch(fd: number): DirWatchDrain;
  loadNetclsClassidProgram(): BpfProgram;
  mountCgroupV1(controller: string, target: string): void;
  tryLockExclusive(fd: number): boolean;
}

/** The shape of an Error the addon throws for a failed system call. */
interface AddonSysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly detail?: string;
}

/** What was being attempted, for the typed error: "create namespace sl-x in netns ...". */
interface FailureContext {
  readonly request: string;
  readonly object: string;
  readonly netns: NetnsLocator;
  /** The netns file, so ENOENT on it is reported as a missing namespace. */
  readonly netnsFile?: string;
}

// src/kernel/native.ts and dist/kernel/native.js are both two levels below the root.
const ADDON_PATH = path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'sluice_native.node');

let loadedAddon: NativeAddon | undefined;

function addon(): NativeAddon {
  if (loadedAddon === undefined) {
    try {
      loadedAddon = require(ADDON_PATH) as NativeAddon;
    } catch (error) {
      throw new FeatureMissingError(
        `the native addon (${ADDON_PATH}: ${(error as Error).message})`,
        'build it: in a checkout `npm ci` (or `npx node-gyp rebuild --directory native`); where the package is installed, `npm rebuild -g sluice` (needs g++, make, python3 and Node\'s headers)',
      );
    }
  }
  return loadedAddon;
}

// ---------------------------------------------------------------- locators

/** The netns file a locator names: bare name → /run/netns/<name>, path as is, HOST_NETNS → own. */
export function netnsPath(locator: NetnsLocator): string {
  if (locator === HOST_NETNS) return HOST_NETNS_PATH;
  if (path.isAbsolute(locator)) {
    if (locator.split('/').includes('..')) throw new PathEscapeError('namespace file', locator, path.resolve(locator), 'the path as written');
    return locator;
  }
  assertNetnsName(locator);
  return confinedToRunDir(`${NETNS_RUN_DIR}/${locator}`, locator);
}

/**
 * A name under /run/netns must stay there. `ip netns add` makes a bind-mounted file, never
 * a link, so a symlink in its place (say to /proc/1/ns/net, the real host) is refused as
 * such: resolving it is no check, since /proc's namespace links do not resolve to a path.
 */
export function confinedToRunDir(file: string, name: string): string {
  let link: string;
  try {
    if (!lstatSync(file).isSymbolicLink()) return file;
    link = readlinkSync(file);
  } catch {
    return file; // not there (yet): whoever opens it reports that
  }
  throw new PathEscapeError('namespace', name, `a link to ${link}`, path.dirname(file));
}

/** The network namespace of a running process, e.g. a container's init. */
export function pidNetns(pid: number): NetnsLocator {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`pidNetns: ${pid} is not a process id`);
  return `/proc/${pid}/ns/net`;
}

function assertNetnsName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw new RangeError(
      `"${name}" is not a namespace name: use a bare name (as in \`ip netns list\`) or an absolute path`,
    );
  }
}

function describeNetns(locator: NetnsLocator): string {
  return locator === HOST_NETNS ? 'host' : locator;
}

// ---------------------------------------------------------------- errors

function isAddonSysError(error: unknown): error is AddonSysError {
  return (
    error instanceof Error &&
    typeof (error as Partial<AddonSysError>).code === 'string' &&
    typeof (error as Partial<AddonSysError>).errno === 'number' &&
    typeof (error as Partial<AddonSysError>).syscall === 'string'
  );
}

/** Turns whatever the addon threw into the typed error an operator reads. */
export function toSluiceError(error: unknown, context: FailureContext): Error {
  if (error instanceof SluiceError || !isAddonSysError(error)) return error as Error;
  if (error.code === 'EPERM' || error.code === 'EACCES') {
    // A process's namespace file is behind a ptrace access check, not only root.
    const byPid = context.netnsFile?.startsWith('/proc/') === true ? lackingHere(['CAP_SYS_PTRACE']) : [];
    return new PermissionError(`${context.request} ${context.object}`, byPid);
  }
  if (error.code === 'ENOENT' && context.netnsFile !== undefined && error.path === context.netnsFile) {
    return new NamespaceNotFoundError(describeNetns(context.netns), context.netnsFile);
  }
  const where = error.path !== undefined ? ` '${error.path}'` : '';
  return new KernelError(
    error.errno,
    error.code,
    context.request,
    context.object,
    describeNetns(context.netns),
    `${error.syscall}${where}${error.detail !== undefined ? `: ${error.detail}` : ''}`,
    hintFor(error, context),
  );
}

function hintFor(error: AddonSysError, context: FailureContext): string | undefined {
  switch (error.code) {
    case 'EEXIST':
      return `${context.object} already exists: delete it first (\`ip netns delete\` for a namespace) or pick another name`;
    case 'EINVAL':
      return error.syscall === 'setns'
        ? `${error.path ?? 'the path'} is not a network namespace file (expected /run/netns/<name> or /proc/<pid>/ns/net)`
        : undefined;
    case 'ENOBUFS':
      return 'the netlink receive buffer overflowed and answers were lost: reopen the channel and retry with smaller batches';
    case 'ETIMEDOUT':
      return 'the kernel did not answer every request: a request in the batch is probably misframed';
    default:
      return undefined;
  }
}

function withContext<T>(context: FailureContext, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw toSluiceError(error, context);
  }
}

// ---------------------------------------------------------------- namespaces

export interface NetnsOptions {
  /** false: IPv6 is disabled inside before anything else happens there. */
  readonly ipv6: boolean;
  /**
   * With IPv6 on, false: devices get no IPv6 address of their own (no link-local
   * address, no DAD or router solicitation), only those assigned. Default true.
   */
  readonly addressAutoconf?: boolean;
  /** true: lo is brought up inside before the namespace appears under /run/netns. */
  readonly loopbackUp?: boolean;
}

/**
 * Creates /run/netns/<name> exactly as `ip netns add` does (by default: IPv6 on, lo
 * down); EEXIST if it is there.
 */
export function createNetns(name: string, options: NetnsOptions = { ipv6: true }): void {
  assertNetnsName(name);
  withContext({ request: 'create', object: `namespace ${name}`, netns: HOST_NETNS }, () => addon().createNetns(name, options.ipv6, options.loopbackUp ?? false, options.addressAutoconf ?? true));
}

/** Deletes a named namespace; one that is already gone counts as deleted. */
export function deleteNetns(name: string): void {
  assertNetnsName(name);
  withContext({ request: 'delete', object: `namespace ${name}`, netns: HOST_NETNS }, () => addon().deleteNetns(name));
}

/** Names under /run/netns, as `ip netns list` shows them. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toSluiceError(error, { request: 'list', object: `namespaces in ${NETNS_RUN_DIR}`, netns: HOST_NETNS });
  }
}


/**
 * Which namespace a locator names right now (device and inode of its nsfs file), or
 * undefined if none: a name deleted and made again names another namespace.
 */
export function netnsIdentity(locator: NetnsLocator): string | undefined {
  try {
    // A name under /run/netns takes one lstat, not netnsPath's lstat and then a stat: lstat
    // crosses the bind mount as stat does, and shows the symlink netnsPath refuses. Every
    // tick asks this of every namespace (1,000 at churn: 2,000 system calls fewer).
    const bare = locator !== HOST_NETNS && !path.isAbsolute(locator);
    if (bare) assertNetnsName(locator);
    const st = bare ? lstatSync(`${NETNS_RUN_DIR}/${locator}`) : statSync(netnsPath(locator));
    return st.isSymbolicLink() ? undefined : `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export const netnsExists = (locator: NetnsLocator): boolean => netnsIdentity(locator) !== undefined;

/** An fd of the namespace file, for IFLA_NET_NS_FD; close it with closeFd. */
export function openNetnsFd(locator: NetnsLocator): number {
  const file = netnsPath(locator);
  return withContext({ request: 'open', object: `namespace file ${file}`, netns: locator, netnsFile: file }, () =>
    addon().openNetnsFd(file),
  );
}

export function closeFd(fd: number): void {
  withContext({ request: 'close', object: `fd ${fd}`, netns: HOST_NETNS }, () => addon().closeFd(fd));
}

// ---------------------------------------------------------------- sysctls

/** Writes a sysctl (dotted key, e.g. net.ipv4.ip_forward) as seen inside `locator`. */
export function writeSysctl(locator: NetnsLocator, key: string, value: string): void {
  const file = netnsPath(locator);
  withContext({ request: 'write', object: `sysctl ${key}=${value}`, netns: locator, netnsFile: file }, () =>
    addon().writeSysctl(file, key, value),
  );
}

/** Reads a sysctl as seen inside `locator`, without the trailing newline. */
export function readSysctl(locator: NetnsLocator, key: string): string {
  const file = netnsPath(locator);
  return withContext({ request: 'read', object: `sysctl ${key}`, netns: locator, netnsFile: file }, () =>
    addon().readSysctl(file, key),
  );
}

// ---------------------------------------------------------------- netlink and BPF

/** A bound NETLINK_ROUTE socket inside `locator`; used by nativeChannel.ts. */
export function openNetlinkSocket(locator: NetnsLocator): number {
  const file = netnsPath(locator);
  return withContext(
    { request: 'open', object: 'netlink socket', netns: locator, netnsFile: file },
    () => addon().openNetlink(file),
  );
}

/**
 * A nonblocking NETLINK_ROUTE socket inside `locator`, member of the rtnetlink multicast
 * `groups` (RTNLGRP_*): the kernel queues a message there for each change.
 */
export function openNetlinkWatch(locator: NetnsLocator, groups: readonly number[]): number {
  const file = netnsPath(locator);
  return withContext({ request: 'open', object: 'netlink watch socket', netns: locator, netnsFile: file }, () => addon().openNetlinkWatch(file, groups));
}

/** Reads what a watch socket has queued, without blocking. */
export function drainNetlink(fd: number, locator: NetnsLocator): NetlinkDrain {
  return withContext({ request: 'read', object: 'netlink watch socket', netns: locator }, () => addon().drainNetlink(fd));
}

/** A nonblocking inotify watch on the entries of directory `dir` (see drainDirWatch); closeFd closes it. */
export function openDirWatch(dir: string): number {
  return withContext({ request: 'watch', object: `directory ${dir}`, netns: HOST_NETNS }, () => addon().openDirWatch(dir));
}

/** What a directory watch has queued since the last drain, without blocking. */
export function drainDirWatch(fd: number): DirWatchDrain {
  return withContext({ request: 'read', object: `directory watch ${fd}`, netns: HOST_NETNS }, () => addon().drainDirWatch(fd));
}

/**
 * Sends framed nlmsgs and resolves, once each seq in `seqs` has its final answer, with
 * every answer in arrival order, packed back to back into as few buffers as it can (not
 * one external buffer per message); nativeChannel's splitAnswers cuts them into messages. Runs on the
 * libuv pool; callers serialise per socket.
 */
export async function exchangeNetlink(
  fd: number,
  netns: NetnsLocator,
  messages: readonly Buffer[],
  seqs: readonly number[],
): Promise<Buffer[]> {
  const context: FailureContext = { request: 'exchange', object: `${messages.length} netlink messages`, netns };
  try {
    return await withContext(context, () => addon().exchange(fd, messages, seqs));
  } catch (error) {
    throw toSluiceError(error, context);
  }
}

/**
 * exchangeNetlink on the calling (JS) thread: the event loop waits for the whole batch.
 * Only for small batches without dumps (nativeChannel decides), whose answers the kernel
 * has queued before sendto returns.
 */
export function exchangeNetlinkSync(fd: number, netns: NetnsLocator, messages: readonly Buffer[], seqs: readonly number[]): Buffer[] {
  return withContext({ request: 'exchange', object: `${messages.length} netlink messages`, netns }, () => addon().exchangeSync(fd, messages, seqs));
}

/** Loads the cls_bpf program that returns the socket's net_cls classid. */
export function loadNetclsClassidProgram(): BpfProgram {
  return withContext({ request: 'load', object: 'BPF program sl_netcls', netns: HOST_NETNS }, () =>
    addon().loadNetclsClassidProgram(),
  );
}

/** Mounts the cgroup v1 net_cls hierarchy at `target` (created if missing). */
export function mountNetCls(target: string): void {
  withContext({ request: 'mount', object: `cgroup v1 net_cls at ${target}`, netns: HOST_NETNS }, () => addon().mountCgroupV1('net_cls', target));
}

/** flock(LOCK_EX|LOCK_NB) on an open file: false when another open file holds it. */
export function tryLockExclusive(fd: number, file: string): boolean {
  return withContext({ request: 'lock', object: file, netns: HOST_NETNS }, () => addon().tryLockExclusive(fd));
}
