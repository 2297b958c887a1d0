// What Sluice created, remembered across runs, so `apply` can remove a container that
// left the policy and `destroy` can remove everything, without ever guessing from
// names alone which `sl-` namespace is whose.

import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { uptime } from 'node:os';
import { readdir, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { SluiceError } from '../errors';
import { syncDirectorySync } from './fsync';
import type { ExternalDevice, NetnsLocator } from '../tc/model';

export interface OwnershipRecord {
  /** The policy's host name. */
  readonly host: string;
  readonly hostNetns: NetnsLocator;
  /** Namespaces Sluice created (and will delete). */
  readonly namespaces: readonly string[];
  /** Every namespace it manages objects in (created or attached). */
  readonly scope: readonly NetnsLocator[];
  /** Devices it created in namespaces it did not create (only these are its to delete there). */
  readonly links?: readonly ExternalDevice[];
  /** Devices it shapes but does not own (a Docker bridge): destroy removes their qdiscs only. */
  readonly external?: readonly ExternalDevice[];
  /**
   * Format 2: every other object Sluice created (or is about to create), by namespace:
   * its identity (objectKey) without the "<netns>/" in front; cgroups under "".
   * Absent in a format-1 record, which owns what is in its namespaces and on its links.
   */
  readonly objects?: Readonly<Record<NetnsLocator, readonly string[]>>;
}

export interface OwnershipStore {
  read(host: string): Promise<OwnershipRecord | undefined>;
  list(): Promise<OwnershipRecord[]>;
  write(record: OwnershipRecord): Promise<void>;
  remove(host: string): Promise<void>;
}

export const DEFAULT_STATE_DIR = '/run/sluice';

/**
 * Names another directory for the records, for a host whose /run is not a tmpfs (each
 * record is synced: on a disk that is milliseconds per change, on a node's tmpfs next to
 * nothing) or for a second instance kept apart. Every command of one host must see the
 * same value: `destroy` finds only the records in it.
 */
export const STATE_DIR_ENV = 'SLUICE_STATE_DIR';

/** The records' directory for `env`: $SLUICE_STATE_DIR when set, else /run/sluice. */
export function ownershipDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env[STATE_DIR_ENV];
  if (dir === undefined || dir === '') return DEFAULT_STATE_DIR;
  if (!isAbsolute(dir)) throw new StateDirError(dir);
  return dir;
}

/** $SLUICE_STATE_DIR is not an absolute path. */
export class StateDirError extends SluiceError {
  readonly code = 'ESTATEDIR';
  constructor(readonly dir: string) {
    super(`${STATE_DIR_ENV}=${dir} is not an absolute path`, `set it to an absolute directory such as /run/sluice (the default), or unset it`);
  }
}

interface CachedRecord {
  readonly stamp: string;
  readonly record: OwnershipRecord;
}

/**
 * One JSON file per host under /run (gone after a reboot, as the kernel state is). A
 * record read again unchanged (same inode, size and mtime) is the same object, so that
 * what is derived from it is made once: a daemon's tick reads it every time.
 */
export class FileOwnershipStore implements OwnershipStore {
  private readonly cache = new Map<string, CachedRecord>();

  constructor(private readonly dir: string = DEFAULT_STATE_DIR) {}

  private file(host: string): string {
    return join(this.dir, `owned-${host}.json`);
  }

  /** In line, as write: a change (a pod's ADD) reads it before its netlink, and a stat through the thread pool was a turn of a busy event loop. */
  async read(host: string): Promise<OwnershipRecord | undefined> {
    const file = this.file(host);
    try {
      const s = statSync(file, { bigint: true });
      const stamp = stampOf(s);
      const cached = this.cache.get(host);
      if (cached?.stamp === stamp) return cached.record;
      const text = readFileSync(file, 'utf8');
      let record: OwnershipRecord;
      try {
        record = JSON.parse(text) as OwnershipRecord;
      } catch (e) {
        // Torn only by a machine crash (written unsynced, see write): then the kernel state it described is gone too.
        if (writtenBeforeBoot(s.mtimeMs)) return undefined;
        throw e;
      }
      this.cache.set(host, { stamp, record });
      return record;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(): Promise<OwnershipRecord[]> {
    let names: string[] = [];
    try {
      names = (await readdir(this.dir)).filter((n) => n.startsWith('owned-') && n.endsWith('.json'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const records = await Promise.all(names.map((n) => this.read(n.slice('owned-'.length, -'.json'.length))));
    return records.filter((r): r is OwnershipRecord => r !== undefined);
  }

  /**
   * Write-then-rename, not synced: the record is written ahead of the creates it
   * announces, and once write(2) and rename(2) return, every process sees it whole (the
   * old one or the new, never a torn one) and it outlives the death of this process or
   * any other. Only a kernel crash or a power cut can lose an unsynced write, and those
   * also remove every object it describes (qdiscs, classes, filters, links, namespaces
   * are kernel memory; the record's own /run is a tmpfs on a node, cleared with them).
   * So a sync bought nothing the record is for, and cost a pod's ADD 2-3 ms of its 14 in
   * serve on a disk-backed /run (two journal commits). In line, not through the thread
   * pool (its operations each waited for a pool thread and a busy event loop). The
   * record written stays cached under its new stamp: the next read (the next change's)
   * parses nothing.
   */
  async write(record: OwnershipRecord): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(record.host)}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    let stamp: string;
    try {
      // One line: at 10,000 containers the record holds some 100,000 keys.
      writeFileSync(fd, `${JSON.stringify(record)}\n`);
      // The inode, size and mtime the rename keeps.
      stamp = stampOf(fstatSync(fd, { bigint: true }));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file(record.host));
    this.cache.set(record.host, { stamp, record });
  }

  async remove(host: string): Promise<void> {
    await rm(this.file(host), { force: true });
    this.cache.delete(host);
    try {
      syncDirectorySync(this.dir);
    } catch {
      // The directory is gone too: nothing left to make durable.
    }
  }
}


const stampOf = (s: BigIntStats): string => `${s.ino}/${s.size}/${s.mtimeNs}`;

/** Last written before this boot (a minute's margin for the clock): left by a kernel that is gone. */
function writtenBeforeBoot(mtimeMs: bigint): boolean {
  return Number(mtimeMs) < Date.now() - uptime() * 1000 - 60_000;
}

/** For tests of code that takes a store. */
export class MemoryOwnershipStore implements OwnershipStore {
  private readonly records = new Map<string, OwnershipRecord>();
  async read(host: string): Promise<OwnershipRecord | undefined> {
    return this.records.get(host);
  }
  async list(): Promise<OwnershipRecord[]> {
    return [...this.records.values()];
  }
  async write(record: OwnershipRecord): Promise<void> {
    this.records.set(record.host, record);
  }
  async remove(host: string): Promise<void> {
    this.records.delete(host);
  }
}
