// The native plugin executable (native/shim/sluice-cni.c, built by `npm ci`) as a runtime
// runs it: ADD and DEL handed to serve's control socket and answered by the plugin's own
// code in the daemon (src/daemon/cni.ts); everything else, and everything while serve
// does not answer, run by the Node plugin it execs (`<its path>-node`), stdin replayed.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AttachmentStore } from '../../src/cni/store';
import { answerCni } from '../../src/daemon/cni';
import type { ControlRequest } from '../../src/daemon/control';

const SHIM = resolve('native/build/Release/sluice-cni');
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'veth1234' }, { name: 'eth0', sandbox: '/run/netns/pod' }],
  ips: [{ address: '198.18.32.5/24', gateway: '198.18.32.1', interface: 2 }],
};

let dir: string;
let server: Server | undefined;
let reloads: string[];
let requests: ControlRequest[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-shim-'));
  reloads = [];
  requests = [];
  // As install-cni.js installs it: the shim as `sluice`, the Node plugin beside it as `sluice-node` (here a stand-in that says it ran).
  copyFileSync(SHIM, join(dir, 'sluice'));
  writeFileSync(join(dir, 'sluice-node'), `#!/bin/sh\ncat > ${dir}/fallback.stdin\necho "$CNI_COMMAND $CNI_CONTAINERID" > ${dir}/fallback.env\necho '{"fallback":true}'\nexit 3\n`);
  chmodSync(join(dir, 'sluice-node'), 0o755);
});

afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const socket = (): string => join(dir, 'sluice.sock');
const stateDir = (): string => join(dir, 'state');

/**
 * serve's control socket as the daemon frames it (one JSON line each way, src/daemon/control.ts:
 * its serveControl sets the umask, which vitest's worker threads may not), answering as the
 * daemon does, or refusing as a serve without `cni` would.
 */
async function serve(refuse = false): Promise<void> {
  const s = createServer((conn) => {
    let buffer = '';
    conn.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const request = JSON.parse(buffer.slice(0, nl)) as ControlRequest;
      requests.push(request);
      const answered = request.cmd !== 'cni' || refuse ? Promise.resolve({ ok: false, error: `unknown request ${request.cmd}` }) : answerCni(request, { reloadSoon: (reason) => reloads.push(reason), shapeSoon: (reason) => Promise.resolve(void reloads.push(reason)) }).then((result) => ({ ok: true, result }));
      void answered.then((response) => conn.write(`${JSON.stringify(response)}\n`));
    });
  });
  await new Promise<void>((r) => s.listen(socket(), () => r()));
  server = s;
}

function conf(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'sluice', stateDir: stateDir(), controlSocket: socket(), prevResult, runtimeConfig: { bandwidth: { IngressRate: 20_000_000, IngressBurst: 4294967295 }, 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': '5mbit' } }, ...extra });
}

function run(command: string, stdin: string): Promise<{ code: number; stdout: string }> {
  const env = { PATH: '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: 'c0ffee01', CNI_NETNS: '/run/netns/pod', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0', CNI_PATH: dir };
  return new Promise((done, fail) => {
    const child = spawn(join(dir, 'sluice'), [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout }));
    child.stdin.end(stdin);
  });
}

describe('the native sluice plugin', () => {
  it('is built by npm ci', () => {
    expect(existsSync(SHIM)).toBe(true);
  });

  it('ADD: serve records the pod (synced) and answers; the shim prints the result; the reload follows', async () => {
    await serve();
    const out = await run('ADD', conf());
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ ...prevResult, cniVersion: '1.0.0' });
    expect(await new AttachmentStore(stateDir()).list()).toMatchObject([{ containerId: 'c0ffee01', bandwidth: { ingressRate: 20_000_000 }, pod: { namespace: 'shop', name: 'web-0' } }]);
    expect(requests).toMatchObject([{ cmd: 'cni', env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee01', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0' }, stdin: conf() }]);
    await new Promise((r) => setImmediate(r));
    expect(reloads).toEqual(['cni ADD c0ffee01']);
    expect(existsSync(join(dir, 'fallback.stdin'))).toBe(false);
  });

  it("ADD of a pod that can never be shaped: serve's CNI error and exit status 1, as the Node plugin gives them", async () => {
    await serve();
    const out = await run('ADD', conf({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': 'lots' } } }));
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('sluice.dev/download-guarantee "lots"') });
  });

  it('DEL: handed over too; prints nothing', async () => {
    await serve();
    expect((await run('ADD', conf())).code).toBe(0);
    const out = await run('DEL', conf());
    expect(out).toEqual({ code: 0, stdout: '' });
    expect(await new AttachmentStore(stateDir()).list()).toEqual([]);
  });

  it('serve not running: the Node plugin runs with the same environment and the whole stdin', async () => {
    const stdin = conf({ padding: 'x'.repeat(200_000), quote: 'a "quoted" \\ value\n' });
    const out = await run('ADD', stdin);
    expect(out).toEqual({ code: 3, stdout: '{"fallback":true}\n' });
    expect(readFileSync(join(dir, 'fallback.stdin'), 'utf8')).toBe(stdin);
    expect(readFileSync(join(dir, 'fallback.env'), 'utf8')).toBe('ADD c0ffee01\n');
  });

  it('a serve that does not answer `cni` (older), and commands other than ADD and DEL: the Node plugin', async () => {
    await serve(true);
    expect((await run('ADD', conf())).stdout).toBe('{"fallback":true}\n');
    expect(requests).toHaveLength(1);
    for (const command of ['CHECK', 'VERSION', 'GC', 'STATUS']) expect((await run(command, conf())).stdout).toBe('{"fallback":true}\n');
    expect(requests).toHaveLength(1);
  });

  it('a controlSocket it cannot read plainly (escaped) goes to the Node plugin, which reads JSON fully', async () => {
    const escaped = conf().replace(`"controlSocket":"${socket()}"`, `"controlSocket":"${socket().replace('/', '\\/')}"`);
    await serve();
    expect((await run('ADD', escaped)).stdout).toBe('{"fallback":true}\n');
    expect(requests).toEqual([]);
  });
});
