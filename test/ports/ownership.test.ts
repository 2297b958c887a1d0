// The ownership record on disk: written whole by a rename (never synced: see write), read
// back without parsing again what this store wrote, read anew when another process wrote
// it, and a record torn by a crash before this boot counts as none.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_STATE_DIR, FileOwnershipStore, ownershipDir, StateDirError, type OwnershipRecord } from '../../src/ports/ownership';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (namespaces: string[]): OwnershipRecord => ({ host: 'n', hostNetns: 'sl-n', namespaces, scope: ['sl-n'], objects: { 'sl-n': ['qdisc/sl-br0/1:'] } });

describe('FileOwnershipStore', () => {
  it('keeps what it wrote without reading it back, and reads what another process wrote', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sl-own-'));
    const store = new FileOwnershipStore(dir);
    const written = record(['sl-a']);
    await store.write(written);
    expect(await store.read('n')).toBe(written);
    // Another process (a second store) sees it whole, and its write is seen here.
    const other = new FileOwnershipStore(dir);
    expect(await other.read('n')).toEqual(written);
    await other.write(record(['sl-a', 'sl-b']));
    expect(await store.read('n')).toEqual(record(['sl-a', 'sl-b']));
    expect(await store.list()).toEqual([record(['sl-a', 'sl-b'])]);
  });

  it('takes a torn record from before this boot for none, and refuses one written since', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sl-own-'));
    const file = join(dir, 'owned-n.json');
    writeFileSync(file, '{"host":"n","names');
    const store = new FileOwnershipStore(dir);
    await expect(store.read('n')).rejects.toThrow(SyntaxError);
    const longAgo = new Date('2001-01-01T00:00:00Z');
    utimesSync(file, longAgo, longAgo);
    expect(await store.read('n')).toBeUndefined();
  });
});

describe('the records directory (ownershipDir)', () => {
  it('is /run/sluice unless $SLUICE_STATE_DIR names an absolute directory', () => {
    expect(ownershipDir({})).toBe(DEFAULT_STATE_DIR);
    expect(ownershipDir({ SLUICE_STATE_DIR: '' })).toBe(DEFAULT_STATE_DIR);
    expect(ownershipDir({ SLUICE_STATE_DIR: '/dev/shm/sluice' })).toBe('/dev/shm/sluice');
  });

  it('refuses a relative path, saying what to set', () => {
    expect(() => ownershipDir({ SLUICE_STATE_DIR: 'run/sluice' })).toThrow(StateDirError);
    expect(() => ownershipDir({ SLUICE_STATE_DIR: 'run/sluice' })).toThrow(/SLUICE_STATE_DIR=run\/sluice is not an absolute path/);
  });
});
