// serve loads the CNI records on every pod's ADD: a scan reads only the records whose
// file changed since the last scan, and sees every change (added, replaced, removed,
// written in place) as a full read would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Attachment } from '../../src/cni/attachment';
import { AttachmentStore, listingOf } from '../../src/cni/store';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const pod = (id: string, address = '198.18.32.10'): Attachment => ({ format: 1, network: 'pods', containerId: id, ifname: 'eth0', netns: `/run/netns/${id}`, addresses: [address], annotations: {}, addedAt: 1 });
const byId = (scan: ReturnType<AttachmentStore['scan']>): Record<string, Attachment | undefined> =>
  Object.fromEntries([...scan.records.values()].map((r) => [r.attachment?.containerId ?? '?', r.attachment]));

describe('AttachmentStore.scan', () => {
  it('reuses what it read of unchanged records and reads the changed ones, as a full read', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-scan-'));
    const store = new AttachmentStore(dir);
    await store.put(pod('a1'));
    await store.put(pod('b2'));
    const first = store.scan('pods', undefined);
    expect(Object.keys(byId(first)).sort()).toEqual(['a1', 'b2']);
    expect(listingOf(first)).toBe(store.listing('pods'));

    await store.put(pod('c3'));
    await store.put(pod('b2', '198.18.32.11'));
    await store.remove('pods', { containerId: 'a1', ifname: 'eth0' });
    const second = store.scan('pods', first);
    const now = byId(second);
    expect(Object.keys(now).sort()).toEqual(['b2', 'c3']);
    expect(now['b2']?.addresses).toEqual(['198.18.32.11']);
    expect(listingOf(second)).toBe(store.listing('pods'));
    expect(listingOf(second)).not.toBe(listingOf(first));
    expect(await store.list('pods')).toEqual(expect.arrayContaining([now['b2'], now['c3']]));

    // Unchanged files: the very objects of the last scan (nothing read again).
    const third = store.scan('pods', second);
    expect(byId(third)['c3']).toBe(now['c3']);
    expect(listingOf(third)).toBe(listingOf(second));

    // Written in place (not by the store): a new size or mtime is a new read.
    const path = join(store.networkDir('pods'), [...third.records.keys()].find((k) => k.includes('c3'))!.split('/').pop()!);
    writeFileSync(path, JSON.stringify(pod('c3', '198.18.32.199')));
    expect(byId(store.scan('pods', third))['c3']?.addresses).toEqual(['198.18.32.199']);
  });

  it('scans every network when none is named', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-scan-'));
    const store = new AttachmentStore(dir);
    await store.put(pod('a1'));
    await store.put({ ...pod('z9'), network: 'other' });
    expect(Object.keys(byId(store.scan(undefined, undefined))).sort()).toEqual(['a1', 'z9']);
  });
});
