// The CNI source's watch on the state directory is a safety net (records written while
// serve starts, a poke that was lost): a record the last load already read asks for no
// second reload (serve answering the native plugin reloads for it already, and a reload
// beside 100 pods is tens of ms of a busy daemon).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Attachment } from '../../../src/cni/attachment';
import { AttachmentStore } from '../../../src/cni/store';
import { hostDocument } from '../../../src/policy/schema';
import { CniSource } from '../../../src/sources/cni/source';
import { silentLogger } from '../../../src/ports/logger';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const pod = (id: string): Attachment => ({ format: 1, network: 'pods', containerId: id, ifname: 'eth0', netns: `/run/netns/${id}`, addresses: ['198.18.32.10'], annotations: {}, addedAt: 1 });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

// Every network (a recursive watch), and the one the Host names (its directory alone).
describe.each([{ network: undefined }, { network: 'pods' }])('cni source watch, network $network', ({ network }) => {
  it('asks for a reload only for records the last load did not read', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-cniwatch-'));
    const cni = network === undefined ? { stateDir: dir } : { stateDir: dir, network };
    const host = hostDocument.parse({ apiVersion: 'sluice.dev/v1', kind: 'Host', metadata: { name: 'n' }, spec: { bridge: 'cni0', subnet: '198.18.32.0/24', capacity: { download: '100mbit', upload: '100mbit' }, cni } }).spec;
    const source = new CniSource(host, silentLogger);
    const store = new AttachmentStore(dir);
    const reasons: string[] = [];
    await source.load();
    const stop = source.follow((r) => reasons.push(r));
    try {
      // Written behind the daemon's back: the watch asks for a reload.
      await store.put(pod('a1'));
      await settle();
      expect(reasons).toEqual(['cni attachments changed']);
      await source.load();
      // Written, then read by a load before the watch looks (serve answering an ADD): nothing more.
      await store.put(pod('b2'));
      await source.load();
      await settle();
      await store.remove('pods', { containerId: 'a1', ifname: 'eth0' });
      await source.load();
      await settle();
      expect(reasons).toEqual(['cni attachments changed']);
      // Removed behind its back: asked again.
      await store.remove('pods', { containerId: 'b2', ifname: 'eth0' });
      await settle();
      expect(reasons).toEqual(['cni attachments changed', 'cni attachments changed']);
    } finally {
      stop();
    }
  });
});
