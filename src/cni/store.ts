// The attachment records on disk: <stateDir>/<network>/<containerid>-<ifname>.json.
// Runtimes run ADD, DEL and GC for different pods in parallel; each change to a
// network's directory happens under that network's lock file, and each record is
// written to a temporary name and renamed, so a reader (the daemon) never sees half a file.
// put does not fsync (docs/decisions.md, "The attachment record unsynced"): once the
// rename returns, the record outlives the plugin, serve and any process (the page cache is
// the kernel's); only a kernel crash or power cut loses it, and that also takes the pod's
// namespace, veth and every tc object the record is for (libcni's own results cache and
// host-local's reservations are written unsynced too). A record torn by such a crash, on
// a disk-backed stateDir, reads as no record (parseAttachment): readers skip it, CHECK
// refuses the pod, ADD replaces it, DEL and GC remove it. remove's directory sync stays
// (DEL is not on a pod's start path).

import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectorySync } from '../ports/fsync';
import { attachmentFileName, parseAttachment, type Attachment } from './attachment';
import type { AttachmentKey } from './protocol';

/** One record as a scan found it: its stamp (path, inode, mtime, size) and content. */
export interface ScannedRecord {
  readonly stamp: string;
  /** Undefined: a file that is not a record (readers skip it). */
  readonly attachment: Attachment | undefined;
}

/** A network's records at one scan, by path. */
export interface RecordScan {
  readonly records: ReadonlyMap<string, ScannedRecord>;
}

/** A scan's records as `AttachmentStore.listing` lists them: equal listings, the same records. */
export const listingOf = (scan: RecordScan): string => [...scan.records.values()].map((r) => r.stamp).sort().join('\n');

const LOCK_FILE = '.lock';
/** A lock older than this was left by a plugin that died holding it (runtimes kill slow plugins). */
const STALE_LOCK_MS = 10_000;
const LOCK_RETRY_MS = 2;
/** Temporary names unique within the process: the daemon records many ADDs at once. */
let temporaries = 0;

export class AttachmentStore {
  constructor(readonly stateDir: string) {}

  networkDir(network: string): string {
    return join(this.stateDir, safeSegment(network));
  }

  /**
   * In line, not through the thread pool: serve records every ADD it answers, and its
   * dozen file operations each waited for a pool thread and a turn of a busy event loop
   * (3 ms a record beside 100 pods, measured; a small file on /run's tmpfs is microseconds).
   */
  async put(a: Attachment): Promise<void> {
    const dir = this.networkDir(a.network);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, attachmentFileName(a.containerId, a.ifname));
    // Written before the lock: the lock orders only the renames.
    const tmp = `${path}.${process.pid}.${++temporaries}.tmp`;
    writeFileSync(tmp, JSON.stringify(a), { mode: 0o600 });
    await this.locked(dir, async () => renameSync(tmp, path));
  }

  async get(network: string, key: AttachmentKey): Promise<Attachment | undefined> {
    try {
      return parseAttachment(await readFile(join(this.networkDir(network), attachmentFileName(key.containerId, key.ifname)), 'utf8'));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /** Removes one record; already gone is success (DEL may come twice). */
  async remove(network: string, key: AttachmentKey): Promise<boolean> {
    const dir = this.networkDir(network);
    if (!(await exists(dir))) return false;
    const had = await this.locked(dir, async () => {
      const path = join(dir, attachmentFileName(key.containerId, key.ifname));
      const present = await exists(path);
      await rm(path, { force: true });
      return present;
    });
    if (had) syncDirectorySync(dir);
    return had;
  }

  /** GC: removes every record of the network not in `valid`; returns the removed ones. */
  async retainOnly(network: string, valid: readonly AttachmentKey[]): Promise<Attachment[]> {
    const dir = this.networkDir(network);
    if (!(await exists(dir))) return [];
    const keep = new Set(valid.map((k) => attachmentFileName(k.containerId, k.ifname)));
    return this.locked(dir, async () => {
      const removed: Attachment[] = [];
      for (const { file, attachment } of await readRecords(dir)) {
        if (keep.has(file)) continue;
        await rm(join(dir, file), { force: true });
        if (attachment) removed.push(attachment);
      }
      return removed;
    });
  }

  /**
   * What the records are now, as one string (each file's name, inode, mtime and size): equal
   * strings, the same records. Cheaper than reading them (a stat each, in line).
   */
  listing(network?: string): string {
    return this.recordPaths(network)
      .flatMap((path) => stampOf(path) ?? [])
      .sort()
      .join('\n');
  }

  /**
   * The network's records (their listing: listingOf), reading only the files whose
   * name, inode, size or mtime differ from `previous` (the last scan's): serve scans on
   * every ADD it answers, and reading every record again was most of that (2 ms of a
   * 4 ms load beside 100 pods). A record is only ever replaced by a rename (a new inode)
   * or removed, so an unchanged stamp is unchanged content. One stat per file, taken
   * before its read: a record replaced in between is read new under its old stamp, so
   * the next scan (and the watch comparing listings) sees it changed, never the reverse.
   */
  scan(network: string | undefined, previous: RecordScan | undefined): RecordScan {
    const records = new Map<string, ScannedRecord>();
    for (const path of this.recordPaths(network)) {
      const known = previous?.records.get(path);
      const record = scanOne(path, (stamp) => (known?.stamp === stamp ? known : undefined));
      if (record) records.set(path, record);
    }
    return { records };
  }

  /**
   * `previous` with the network's records named in `files` (entry names, as a watch of
   * the network's directory reports them) read again, whatever their stamp says (a file
   * written in place within one clock tick keeps it), and the others kept as they were.
   * Equal to a full scan when `files` names every entry changed since `previous` was
   * scanned: serve's CNI source drains an inotify watch for that (sources/cni/source.ts).
   */
  rescan(network: string, previous: RecordScan, files: Iterable<string>): RecordScan {
    const records = new Map(previous.records);
    const dir = this.networkDir(network);
    for (const file of files) {
      if (!file.endsWith('.json')) continue;
      const path = join(dir, file);
      const record = scanOne(path, () => undefined);
      if (record) records.set(path, record);
      else records.delete(path);
    }
    return { records };
  }

  /** Record `file` of `network`: its path, and its stamp now as a scan takes it (undefined: there is none). */
  stampNow(network: string, file: string): { readonly path: string; readonly stamp: string | undefined } {
    const path = join(this.networkDir(network), file);
    return { path, stamp: stampOf(path) };
  }

  /** The paths of the records of one network or of all, now. */
  private recordPaths(network: string | undefined): string[] {
    const dirs = network !== undefined ? [this.networkDir(network)] : subdirectoriesNow(this.stateDir);
    return dirs.flatMap((dir) => filesNow(dir).filter((file) => file.endsWith('.json')).map((file) => join(dir, file)));
  }

  /** Every recorded attachment, of one network or of all. */
  async list(network?: string): Promise<Attachment[]> {
    const dirs = network !== undefined ? [this.networkDir(network)] : await subdirectories(this.stateDir);
    const out: Attachment[] = [];
    for (const dir of dirs) for (const r of await readRecords(dir)) if (r.attachment) out.push(r.attachment);
    return out;
  }

  /** STATUS: the directory can be written (created if missing). */
  async writable(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const probe = join(this.stateDir, `.status.${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  }

  private async locked<T>(dir: string, body: () => Promise<T>): Promise<T> {
    const path = join(dir, LOCK_FILE);
    for (;;) {
      try {
        // In line (see put); only a wait for another process's lock goes to the timer.
        closeSync(openSync(path, 'wx', 0o600));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        await breakIfStale(path);
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      }
    }
    try {
      return await body();
    } finally {
      rmSync(path, { force: true });
    }
  }
}

async function breakIfStale(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (Date.now() - s.mtimeMs > STALE_LOCK_MS) await rm(path, { force: true });
  } catch {
    // Released meanwhile.
  }
}

/**
 * Read synchronously: serve reads every record on every reload, and through the thread
 * pool 100 small files took 12-15 ms (one after another 15-30), against 2 ms read in
 * line, most of a reload beside 100 pods.
 */
async function readRecords(dir: string): Promise<{ file: string; attachment: Attachment | undefined }[]> {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
  const out: { file: string; attachment: Attachment | undefined }[] = [];
  for (const file of files) {
    if (!file.endsWith('.json')) continue;
    try {
      out.push({ file, attachment: parseAttachment(readFileSync(join(dir, file), 'utf8')) });
    } catch (e) {
      // Removed by a DEL between readdir and read.
      if (!isMissing(e)) throw e;
    }
  }
  return out;
}

/**
 * One record's stamp and content (`known`: what the last scan read under that stamp),
 * or undefined when it is gone. The stat is taken before the read: a record replaced in
 * between is read new under its old stamp, so the next scan sees it changed, never the reverse.
 */
function scanOne(path: string, known: (stamp: string) => ScannedRecord | undefined): ScannedRecord | undefined {
  try {
    const stamp = stampOf(path);
    if (stamp === undefined) return undefined;
    return known(stamp) ?? { stamp, attachment: parseAttachment(readFileSync(path, 'utf8')) };
  } catch (e) {
    // Removed by a DEL between its stat and its read.
    if (!isMissing(e)) throw e;
    return undefined;
  }
}

/** A record's name, inode, mtime and size: a different stamp, different content (see scan); undefined once removed. */
function stampOf(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return `${path}:${s.ino}:${s.mtimeNs}:${s.size}`;
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

function filesNow(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

function subdirectoriesNow(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** A network name as one path segment (CNI names are free text). */
const safeSegment = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, '_');
