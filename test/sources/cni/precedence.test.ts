// A node's policy files against its pods' own annotations, through the policy loader as
// serve runs it (records in a state directory, files beside them): a file naming a pod
// wins until it goes; pods that do not fit wait, the ones admitted before them keep
// their guarantees; a pod whose document fails validation gives way alone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AttachmentStore } from '../../../src/cni/store';
import type { PolicyLoad } from '../../../src/sources/loader';
import { cniPod as pod, policyLoader } from '../../support/sources';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function node(overcommit = 'reject', cni = ''): { policy: string; store: AttachmentStore } {
  dir = mkdtempSync(join(tmpdir(), 'sluice-precedence-'));
  const policy = join(dir, 'policy');
  mkdirSync(policy);
  writeFileSync(join(policy, 'host.yaml'), `apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: node }\nspec: { netns: sl-cnihost, bridge: cni0, ifb: sl-ifb0, subnet: 198.18.32.0/24, capacity: { download: 100mbit, upload: 100mbit }, overcommit: ${overcommit}, cni: { stateDir: ${join(dir, 'state')}${cni} } }\n`);
  return { policy, store: new AttachmentStore(join(dir, 'state')) };
}

const guarantee = (g: string): Record<string, string> => ({ 'sluice.dev/download-guarantee': g, 'sluice.dev/upload-guarantee': g });

async function load(paths: string): Promise<Extract<PolicyLoad, { ok: true }>> {
  const loaded = await policyLoader([paths]).load();
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  return loaded;
}

const shaped = (l: Extract<PolicyLoad, { ok: true }>): Record<string, number> =>
  Object.fromEntries(l.policy.containers.map((c) => [c.workload?.name ?? c.name, c.bandwidth.download.guarantee / 1e6]));

describe('pods against the files', () => {
  it('a file naming a pod (match: { pod }) wins over its annotations; removing the file restores them', async () => {
    const { policy, store } = node();
    await store.put(pod('web', 10, 1, guarantee('10mbit')));
    await store.put(pod('api', 11, 2, guarantee('20mbit')));
    expect(shaped(await load(policy))).toEqual({ 'shop/web': 10, 'shop/api': 20 });
    const file = join(policy, 'web.yaml');
    writeFileSync(file, 'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: web-override }\nspec:\n  match: { pod: shop/web }\n  download: { guarantee: 60mbit, ceiling: 80mbit }\n  upload: { guarantee: 5mbit }\n');
    const overridden = await load(policy);
    expect(shaped(overridden)).toEqual({ 'shop/web': 60, 'shop/api': 20 });
    expect(overridden.policy.containers.find((c) => c.name === 'web-override')!.bandwidth.download.ceiling).toBe(80e6);
    rmSync(file);
    expect(shaped(await load(policy))).toEqual({ 'shop/web': 10, 'shop/api': 20 });
  });

  it('a file whose match selects several pods overrides none (its container waits, saying why)', async () => {
    const { policy, store } = node();
    await store.put(pod('a', 10, 1, guarantee('10mbit')));
    await store.put(pod('b', 11, 2, guarantee('10mbit')));
    writeFileSync(join(policy, 'all.yaml'), 'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: all }\nspec:\n  match: { cni: { labels: { sluice.dev/download-guarantee: 10mbit } } }\n  download: { guarantee: 1mbit }\n  upload: { guarantee: 1mbit }\n');
    const loaded = await load(policy);
    expect(shaped(loaded)).toEqual({ 'shop/a': 10, 'shop/b': 10 });
    expect(loaded.waiting).toEqual([{ container: 'all', reason: expect.stringContaining('matches 2 running containers') }]);
  });

  it('pods that do not fit wait (does-not-fit), in the order they came; the earlier ones keep their guarantees', async () => {
    const { policy, store } = node();
    await store.put(pod('first', 10, 1, guarantee('40mbit')));
    await store.put(pod('third', 12, 3, guarantee('30mbit')));
    await store.put(pod('second', 11, 2, guarantee('40mbit')));
    await store.put(pod('small', 13, 4, guarantee('10mbit')));
    const loaded = await load(policy);
    expect(shaped(loaded)).toEqual({ 'shop/first': 40, 'shop/second': 40, 'shop/small': 10 });
    expect(loaded.unshaped).toEqual([{ source: 'cni', workload: 'shop/third', reason: 'does-not-fit', detail: expect.stringContaining('download guarantee 30mbit does not fit: the guarantees already admitted add up to 80mbit of the link\'s 100mbit') }]);
    // Once a pod leaves, the waiting one fits.
    await store.remove('pods', { containerId: 'ctrsecond', ifname: 'eth0' });
    expect((await load(policy)).unshaped).toEqual([]);
  });

  it('with overcommit: scale-by-priority every pod is admitted (the guarantees are scaled)', async () => {
    const { policy, store } = node('scale-by-priority');
    for (const [i, name] of ['a', 'b', 'c'].entries()) await store.put(pod(name, 10 + i, i, guarantee('40mbit')));
    expect((await load(policy)).unshaped).toEqual([]);
  });

  it('a pod whose document fails validation on this node gives way alone (invalid), the other pods are shaped', async () => {
    const { policy, store } = node();
    await store.put(pod('wide', 10, 1, { 'sluice.dev/download-ceiling': '1gbit' }));
    await store.put(pod('fine', 11, 2, guarantee('5mbit')));
    const loaded = await load(policy);
    expect(shaped(loaded)).toEqual({ 'shop/fine': 5 });
    expect(loaded.unshaped).toEqual([{ source: 'cni', workload: 'shop/wide', reason: 'invalid', detail: expect.stringContaining('download ceiling 1gbit is above the link\'s 100mbit') }]);
  });

  it('a pod outside the Host subnet is reported (no-address), not only logged', async () => {
    const { policy, store } = node();
    await store.put(pod('elsewhere', 10, 1));
    await store.put({ ...pod('away', 10, 2), addresses: ['10.0.0.5'] });
    const loaded = await load(policy);
    expect(loaded.unshaped).toEqual([{ source: 'cni', workload: 'shop/away', reason: 'no-address', detail: expect.stringContaining('outside the Host subnet') }]);
    expect(loaded.waiting).toEqual([]);
  });
});

describe('pods in groups', () => {
  const group = (name: string, download: string): string => `apiVersion: sluice.dev/v1\nkind: Group\nmetadata: { name: ${name} }\nspec:\n  download: { ${download} }\n  upload: {}\n`;
  const groups = (l: Extract<PolicyLoad, { ok: true }>): Record<string, string | undefined> => Object.fromEntries(l.policy.containers.map((c) => [c.workload!.name, c.group]));

  it('a pod joins the Group its sluice.dev/group annotation names, its ceiling within the group\'s', async () => {
    const { policy, store } = node();
    writeFileSync(join(policy, 'groups.yaml'), group('gold', 'guarantee: 50mbit, ceiling: 60mbit'));
    await store.put(pod('web', 10, 1, { ...guarantee('10mbit'), 'sluice.dev/group': 'gold' }));
    await store.put(pod('api', 11, 2, guarantee('10mbit')));
    const loaded = await load(policy);
    expect(groups(loaded)).toEqual({ 'shop/web': 'gold', 'shop/api': undefined });
    expect(loaded.policy.containers.find((c) => c.workload!.name === 'shop/web')!.bandwidth.download.ceiling).toBe(60e6);
  });

  it('a pod naming a group no file defines gives way alone (invalid, naming the group)', async () => {
    const { policy, store } = node();
    await store.put(pod('web', 10, 1, { 'sluice.dev/group': 'nope' }));
    await store.put(pod('api', 11, 2));
    const loaded = await load(policy);
    expect(groups(loaded)).toEqual({ 'shop/api': undefined });
    expect(loaded.unshaped).toEqual([{ source: 'cni', workload: 'shop/web', reason: 'invalid', detail: expect.stringContaining('unknown group "nope"') }]);
  });

  it('cni.groupBy: namespace puts each namespace\'s pods in the Group of its name; a namespace without one stays under the link', async () => {
    const { policy, store } = node('reject', ', groupBy: namespace');
    writeFileSync(join(policy, 'groups.yaml'), `${group('shop', 'guarantee: 40mbit, ceiling: 50mbit')}---\n${group('gold', 'ceiling: 90mbit')}`);
    await store.put(pod('web', 10, 1, guarantee('10mbit')));
    await store.put(pod('api', 11, 2, guarantee('10mbit')));
    await store.put(pod('vip', 12, 3, { ...guarantee('10mbit'), 'sluice.dev/group': 'gold' }));
    await store.put(pod('dns', 13, 4, guarantee('5mbit'), 'kube-system'));
    // The kubelet's ceiling above the namespace Group's is held within it, not an error of the pod's.
    await store.put({ ...pod('fast', 14, 5, guarantee('10mbit')), bandwidth: { ingressRate: 80e6 } });
    const loaded = await load(policy);
    expect(groups(loaded)).toEqual({ 'shop/web': 'shop', 'shop/api': 'shop', 'shop/vip': 'gold', 'kube-system/dns': undefined, 'shop/fast': 'shop' });
    expect(loaded.policy.containers.find((c) => c.workload!.name === 'shop/web')!.bandwidth.download.ceiling).toBe(50e6);
    expect(loaded.policy.containers.find((c) => c.workload!.name === 'shop/fast')!.bandwidth.download.ceiling).toBe(50e6);
    expect(loaded.unshaped).toEqual([]);
    // A file naming a pod that names no group: the pod's namespace group still holds it.
    writeFileSync(join(policy, 'web.yaml'), 'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: web-override }\nspec:\n  match: { pod: shop/web }\n  download: { guarantee: 20mbit }\n  upload: { guarantee: 5mbit }\n');
    const overridden = await load(policy);
    expect(overridden.policy.containers.find((c) => c.name === 'web-override')).toMatchObject({ group: 'shop', bandwidth: { download: { guarantee: 20e6, ceiling: 50e6 } } });
  });

  it("pods that do not fit their group's guarantee wait (does-not-fit, naming the group); the node's other pods are shaped", async () => {
    const { policy, store } = node('reject', ', groupBy: namespace');
    writeFileSync(join(policy, 'groups.yaml'), group('shop', 'guarantee: 30mbit'));
    await store.put(pod('first', 10, 1, guarantee('20mbit')));
    await store.put(pod('second', 11, 2, guarantee('20mbit')));
    await store.put(pod('other', 12, 3, guarantee('20mbit'), 'batch'));
    const loaded = await load(policy);
    expect(groups(loaded)).toEqual({ 'shop/first': 'shop', 'batch/other': undefined });
    expect(loaded.unshaped).toEqual([{ source: 'cni', workload: 'shop/second', reason: 'does-not-fit', detail: expect.stringContaining('does not fit in group shop: its members already admitted are guaranteed 20mbit of the group\'s 30mbit') }]);
  });
});
