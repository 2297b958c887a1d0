// What Sluice created, remembered across runs, so `apply` can remove a container that
// left the policy and `destroy` can remove everything, without ever guessing from
// names alone which `sl-` namespace is whose.

import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
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
}

export interface OwnershipStore {
  read(host: string): Promise<OwnershipRecord | undefined>;
  list(): Promise<OwnershipRecord[]>;
  write(record: OwnershipRecord): Promise<void>;
  remove(host: string): Promise<void>;
}

export const DEFAULT_STATE_DIR = '/run/sluice';

/** One JSON file per host under /run (gone after a reboot, as the kernel state is). */
export class FileOwnershipStore implements OwnershipStore {
  constructor(private readonly dir: string = DEFAULT_STATE_DIR) {}

  private file(host: string): string {
    return join(this.dir, `owned-${host}.json`);
  }

  async read(host: string): Promise<OwnershipRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(host), 'utf8')) as OwnershipRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(): Promise<OwnershipRecord[]> {
    const { readdir } = await import('node:fs/promises');
    let names: string[] = [];
    try {
      names = (await readdir(this.dir)).filter((n) => n.startsWith('owned-') && n.endsWith('.json'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const records = await Promise.all(names.map((n) => this.read(n.slice('owned-'.length, -'.json'.length))));
    return records.filter((r): r is OwnershipRecord => r !== undefined);
  }

  async write(record: OwnershipRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Write-then-rename: a crash never leaves a torn record behind.
    const tmp = `${this.file(record.host)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.file(record.host));
  }

  async remove(host: string): Promise<void> {
    await rm(this.file(host), { force: true });
  }
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
