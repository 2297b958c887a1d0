import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cni/main';
import type { PluginDeps } from '../../src/cni/plugin';
import { AttachmentStore } from '../../src/cni/store';
import { CNI_ERROR, parseCniArgs } from '../../src/cni/protocol';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '02:00:00:00:00:01' }, { name: 'veth1234', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/run/netns/pod' }],
  ips: [{ address: '198.18.32.5/24', gateway: '198.18.32.1', interface: 2 }],
};

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(missing: string[] = []): { deps: PluginDeps; pokes: string[] } {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cni-'));
  const pokes: string[] = [];
  const deps: PluginDeps = {
    storeFor: (d) => new AttachmentStore(d),
    hostSide: async () => ({ hostVeth: 'veth1234', bridge: 'cni0' }),
    poke: async (_socket, reason) => {
      pokes.push(reason);
      return false;
    },
    missingShaping: async () => missing,
  };
  return { deps, pokes };
}

const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'sluice', stateDir: dir, prevResult, ...extra });
const env = (command: string, id = 'c0ffee01'): NodeJS.ProcessEnv => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/run/netns/pod', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0' });

async function call(deps: PluginDeps, stdin: string, e: NodeJS.ProcessEnv): Promise<{ code: number; out: Record<string, unknown> | undefined }> {
  let text = '';
  const code = await main(stdin, e, (t) => (text += t), deps);
  return { code, out: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('cni plugin', () => {
  it('ADD passes prevResult through in the configuration\'s version and records the pod', async () => {
    const { deps, pokes } = setup();
    const bandwidth = { ingressRate: 20_000_000, ingressBurst: 800_000, egressRate: 10_000_000 };
    const stdin = conf({ cniVersion: '1.1.0', runtimeConfig: { bandwidth, 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': '5mbit', 'other.io/x': 'y' } } });
    const { code, out } = await call(deps, stdin, env('ADD'));
    expect(code).toBe(0);
    expect(out).toEqual({ ...prevResult, cniVersion: '1.1.0' });
    const [a] = await new AttachmentStore(dir).list();
    expect(a).toMatchObject({ network: 'pods', containerId: 'c0ffee01', ifname: 'eth0', netns: '/run/netns/pod', hostVeth: 'veth1234', bridge: 'cni0', addresses: ['198.18.32.5'], bandwidth, annotations: { 'sluice.dev/download-guarantee': '5mbit' }, pod: { namespace: 'shop', name: 'web-0' } });
    expect(pokes).toEqual(['cni ADD c0ffee01']);
  });

  it('DEL succeeds when the pod is already gone, twice', async () => {
    const { deps } = setup();
    await call(deps, conf(), env('ADD'));
    expect((await call(deps, conf(), env('DEL'))).code).toBe(0);
    expect((await call(deps, conf(), { ...env('DEL'), CNI_NETNS: '' })).code).toBe(0);
    expect(await new AttachmentStore(dir).list()).toEqual([]);
  });

  it('CHECK fails with the spec\'s JSON when shaping is missing, and for an unknown pod', async () => {
    const { deps } = setup(['no download class for 198.18.32.5 on cni0']);
    await call(deps, conf(), env('ADD'));
    const failed = await call(deps, conf(), env('CHECK'));
    expect(failed.code).toBe(1);
    expect(failed.out).toMatchObject({ cniVersion: '1.0.0', code: CNI_ERROR.shapingMissing });
    expect(String(failed.out!['msg'])).toContain('no download class for 198.18.32.5');
    expect((await call(deps, conf(), env('CHECK', 'other'))).out).toMatchObject({ code: CNI_ERROR.unknownContainer });
  });

  it('GC removes attachments not in cni.dev/valid-attachments', async () => {
    const { deps } = setup();
    for (const id of ['aa', 'bb', 'cc']) await call(deps, conf(), env('ADD', id));
    const gc = JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'sluice', stateDir: dir, 'cni.dev/valid-attachments': [{ containerID: 'bb', ifname: 'eth0' }] });
    expect((await call(deps, gc, { CNI_COMMAND: 'GC' })).code).toBe(0);
    expect((await new AttachmentStore(dir).list()).map((a) => a.containerId)).toEqual(['bb']);
    expect(readdirSync(join(dir, 'pods')).sort()).toEqual(['bb-eth0.json']);
  });

  it('VERSION, STATUS, and the spec\'s error codes', async () => {
    const { deps } = setup();
    expect((await call(deps, '{"cniVersion":"1.1.0"}', { CNI_COMMAND: 'VERSION' })).out).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    expect((await call(deps, JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'sluice', stateDir: dir }), { CNI_COMMAND: 'STATUS' })).code).toBe(0);
    expect((await call(deps, conf(), { CNI_COMMAND: 'STATUS' })).out).toMatchObject({ code: CNI_ERROR.incompatibleVersion });
    expect((await call(deps, conf({ cniVersion: '9.9.9' }), env('ADD'))).out).toMatchObject({ code: CNI_ERROR.incompatibleVersion });
    expect((await call(deps, '{', env('ADD'))).out).toMatchObject({ code: CNI_ERROR.decodeFailure });
    expect((await call(deps, conf(), { ...env('ADD'), CNI_IFNAME: undefined })).out).toMatchObject({ code: CNI_ERROR.invalidEnvironment });
    expect((await call(deps, conf({ prevResult: undefined }), env('ADD'))).out).toMatchObject({ code: CNI_ERROR.invalidConfig });
    expect((await call(deps, conf({ runtimeConfig: { bandwidth: { ingressRate: 'fast' } } }), env('ADD'))).out).toMatchObject({ code: CNI_ERROR.invalidConfig });
  });

  it('parallel ADDs of 50 pods all land (the lock holds)', async () => {
    const { deps } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(deps, conf(), env('ADD', `pod${i}`))));
    expect(results.every((r) => r.code === 0)).toBe(true);
    expect(await new AttachmentStore(dir).list()).toHaveLength(50);
  });

  it('reads CNI_ARGS pairs', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=a=b;junk')).toEqual({ IgnoreUnknown: '1', K8S_POD_NAME: 'a=b' });
  });
});

/** The spec's cases (containernetworking/cni SPEC.md, 1.1.0), each as a runtime would send it. */
describe('cni plugin: the spec\'s cases', () => {
  const errorShape = (out: Record<string, unknown> | undefined): void => {
    expect(Object.keys(out ?? {}).sort()).toEqual(['cniVersion', 'code', 'details', 'msg']);
    expect(typeof out!['code']).toBe('number');
    expect(String(out!['msg']).length).toBeGreaterThan(0);
    expect(String(out!['details']).length).toBeGreaterThan(0);
  };

  it('an error: exit status 1, and on stdout exactly cniVersion (the configuration\'s), code, msg and details', async () => {
    const { deps } = setup();
    const failed = await call(deps, conf({ cniVersion: '0.4.0', prevResult: undefined }), env('ADD'));
    expect(failed.code).toBe(1);
    errorShape(failed.out);
    expect(failed.out).toMatchObject({ cniVersion: '0.4.0', code: CNI_ERROR.invalidConfig });
  });

  it('an error the plugin did not raise on purpose is code 999 (internal), not an I/O failure', async () => {
    const { deps } = setup();
    const failed = await call({ ...deps, hostSide: () => Promise.reject(new TypeError('x is undefined')) }, conf(), env('ADD'));
    expect(failed.code).toBe(1);
    errorShape(failed.out);
    expect(failed.out).toMatchObject({ cniVersion: '1.0.0', code: CNI_ERROR.internal });
    expect(String(failed.out!['msg'])).toContain('x is undefined');
  });

  it('an unknown or missing CNI_COMMAND: code 4 naming the variable', async () => {
    const { deps } = setup();
    for (const e of [{ ...env('FROB') }, { ...env('ADD'), CNI_COMMAND: undefined }]) {
      const failed = await call(deps, conf(), e);
      expect(failed.code).toBe(1);
      errorShape(failed.out);
      expect(failed.out).toMatchObject({ cniVersion: '1.0.0', code: CNI_ERROR.invalidEnvironment });
      expect(String(failed.out!['msg'])).toContain('CNI_COMMAND');
    }
  });

  it('CHECK with a cniVersion before 0.4.0 is refused (code 1) without looking at the kernel; from 0.4.0 it runs', async () => {
    let looked = 0;
    const { deps } = setup();
    const counting: PluginDeps = { ...deps, missingShaping: async () => (looked++, []) };
    await call(counting, conf(), env('ADD'));
    for (const cniVersion of ['0.3.0', '0.3.1']) {
      const refused = await call(counting, conf({ cniVersion }), env('CHECK'));
      expect(refused.code, cniVersion).toBe(1);
      errorShape(refused.out);
      expect(refused.out, cniVersion).toMatchObject({ cniVersion, code: CNI_ERROR.incompatibleVersion });
      expect(String(refused.out!['msg'])).toContain('CHECK needs cniVersion 0.4.0');
    }
    expect(looked).toBe(0);
    expect((await call(counting, conf({ cniVersion: '0.4.0' }), env('CHECK'))).code).toBe(0);
    expect(looked).toBe(1);
  });

  it('VERSION with empty stdin answers in the plugin\'s own version', async () => {
    const { deps } = setup();
    const r = await call(deps, '', { CNI_COMMAND: 'VERSION' });
    expect(r.code).toBe(0);
    expect(r.out).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('DEL without prevResult (and without CNI_NETNS) succeeds and removes the record', async () => {
    const { deps, pokes } = setup();
    await call(deps, conf(), env('ADD'));
    const r = await call(deps, conf({ prevResult: undefined }), { ...env('DEL'), CNI_NETNS: undefined });
    expect(r).toEqual({ code: 0, out: undefined });
    expect(await new AttachmentStore(dir).list()).toEqual([]);
    expect(pokes).toEqual(['cni ADD c0ffee01', 'cni DEL c0ffee01']);
  });

  it('GC without cni.dev/valid-attachments collects nothing (an absent list is not an empty one)', async () => {
    const { deps } = setup();
    for (const id of ['aa', 'bb']) await call(deps, conf(), env('ADD', id));
    const gc = JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'sluice', stateDir: dir });
    expect(await call(deps, gc, { CNI_COMMAND: 'GC' })).toEqual({ code: 0, out: undefined });
    expect((await new AttachmentStore(dir).list()).map((a) => a.containerId).sort()).toEqual(['aa', 'bb']);
  });

  it('STATUS fails with code 50 when attachments cannot be recorded', async () => {
    const { deps } = setup();
    const notADirectory = join(dir, 'file');
    writeFileSync(notADirectory, '');
    const r = await call(deps, JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'sluice', stateDir: notADirectory }), { CNI_COMMAND: 'STATUS' });
    expect(r.code).toBe(1);
    errorShape(r.out);
    expect(r.out).toMatchObject({ cniVersion: '1.1.0', code: CNI_ERROR.notAvailable });
    expect(String(r.out!['msg'])).toContain(notADirectory);
  });

  it('0.4.0 results: each IP names its family (required before 1.0.0), and 1.x results do not', async () => {
    const { deps } = setup();
    const prev040 = { ...prevResult, cniVersion: '0.4.0', ips: [{ version: '4', address: '198.18.32.5/24', gateway: '198.18.32.1', interface: 2 }, { address: '2001:2::5/64', interface: 2 }] };
    const r = await call(deps, conf({ cniVersion: '0.4.0', prevResult: prev040 }), env('ADD'));
    expect(r.code).toBe(0);
    expect(r.out).toEqual({ ...prev040, ips: [prev040.ips[0], { version: '6', address: '2001:2::5/64', interface: 2 }] });
    const back = await call(deps, conf({ cniVersion: '1.0.0', prevResult: prev040 }), env('ADD', 'c0ffee02'));
    expect((back.out!['ips'] as Record<string, unknown>[]).map((ip) => 'version' in ip)).toEqual([false, false]);
    expect(back.out!['cniVersion']).toBe('1.0.0');
  });
});
