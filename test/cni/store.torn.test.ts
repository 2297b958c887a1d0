// put writes a record unsynced (src/cni/store.ts): a machine crash can leave it empty,
// cut short, zero-filled or as a leftover temporary on a disk-backed stateDir. After the
// reboot such a file must read as no record (serve's scan and the plugin skip it, CHECK
// refuses the pod with a clear error) and ADD, DEL and GC must still work over it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attachmentFileName, type Attachment } from '../../src/cni/attachment';
import { main } from '../../src/cni/main';
import type { PluginDeps } from '../../src/cni/plugin';
import { CNI_ERROR } from '../../src/cni/protocol';
import { AttachmentStore, listingOf } from '../../src/cni/store';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const pod = (id: string): Attachment => ({ format: 1, network: 'pods', containerId: id, ifname: 'eth0', netns: `/run/netns/${id}`, addresses: ['198.18.32.10'], annotations: {}, addedAt: 1 });

const TORN: Readonly<Record<string, string>> = {
  empty: '',
  'cut short': JSON.stringify(pod('t0rn')).slice(0, 40),
  'zero-filled': '\0'.repeat(180),
};

/** A store whose network directory holds the good record `g00d` and a torn one, `t0rn`, written as `content`. */
async function crashed(content: string): Promise<AttachmentStore> {
  dir = mkdtempSync(join(tmpdir(), 'sluice-torn-'));
  const store = new AttachmentStore(dir);
  await store.put(pod('g00d'));
  const net = store.networkDir('pods');
  mkdirSync(net, { recursive: true });
  writeFileSync(join(net, attachmentFileName('t0rn', 'eth0')), content);
  // The temporary of a put the crash interrupted before its rename.
  writeFileSync(join(net, `${attachmentFileName('l0st', 'eth0')}.4242.1.tmp`), content);
  return store;
}

const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/t0rn' }], ips: [{ address: '198.18.32.5/24', interface: 0 }] };

function deps(): PluginDeps {
  return { storeFor: (d) => new AttachmentStore(d), hostSide: async () => ({ hostVeth: 'veth1', bridge: 'cni0' }), poke: async () => false, missingShaping: async () => [] };
}

async function call(command: string, extra: Record<string, unknown> = {}): Promise<{ code: number; out: Record<string, unknown> | undefined }> {
  const stdin = JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'sluice', stateDir: dir, prevResult, ...extra });
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: 't0rn', CNI_NETNS: '/run/netns/t0rn', CNI_IFNAME: 'eth0', CNI_ARGS: '' };
  let text = '';
  const code = await main(stdin, env, (t) => (text += t), deps());
  return { code, out: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe.each(Object.entries(TORN))('a record torn by a crash (%s)', (_, content) => {
  it('reads as no record: serve\'s scan, a rescan and a listing skip it; get finds none', async () => {
    const store = await crashed(content);
    const ids = (scan: ReturnType<AttachmentStore['scan']>): string[] => [...scan.records.values()].flatMap((r) => (r.attachment ? [r.attachment.containerId] : []));
    const scan = store.scan('pods', undefined);
    expect(ids(scan)).toEqual(['g00d']);
    expect(ids(store.scan(undefined, undefined))).toEqual(['g00d']);
    expect(ids(store.rescan('pods', scan, readdirSync(store.networkDir('pods'))))).toEqual(['g00d']);
    expect(listingOf(scan)).toBe(store.listing('pods'));
    expect((await store.list()).map((a) => a.containerId)).toEqual(['g00d']);
    expect(await store.get('pods', { containerId: 't0rn', ifname: 'eth0' })).toBeUndefined();
  });

  it('CHECK refuses the pod with the CNI error for an unknown container; ADD then records it whole', async () => {
    await crashed(content);
    const check = await call('CHECK');
    expect(check.code).toBe(1);
    expect(check.out).toMatchObject({ code: CNI_ERROR.unknownContainer, msg: expect.stringContaining('no sluice attachment for container t0rn') });
    expect((await call('ADD')).code).toBe(0);
    expect((await call('CHECK')).code).toBe(0);
    expect((await new AttachmentStore(dir).get('pods', { containerId: 't0rn', ifname: 'eth0' }))?.addresses).toEqual(['198.18.32.5']);
  });

  it('DEL removes it; GC removes it when the runtime no longer lists it', async () => {
    const store = await crashed(content);
    expect((await call('DEL')).code).toBe(0);
    expect(readdirSync(store.networkDir('pods')).filter((f) => f.endsWith('.json'))).toEqual([attachmentFileName('g00d', 'eth0')]);
    writeFileSync(join(store.networkDir('pods'), attachmentFileName('t0rn', 'eth0')), content);
    const gc = await call('GC', { 'cni.dev/valid-attachments': [{ containerID: 'g00d', ifname: 'eth0' }] });
    expect(gc.code).toBe(0);
    expect(readdirSync(store.networkDir('pods')).filter((f) => f.endsWith('.json'))).toEqual([attachmentFileName('g00d', 'eth0')]);
  });
});
