// bench/cniAdd: how long the sluice CNI plugin's ADD takes, run as a runtime runs it (a
// process per call: node starting, config on stdin, result on stdout), 100 pods one
// after another and 100 at once (a node starting 100 pods), with a daemon listening on
// the control socket and with none; and the plugin's own work in-process (no node start).
// Runs the built plugin (dist/, `npm run build` first; `--tsx` runs the source instead).
// Run: npx tsx bench/cniAdd.ts [pods=100]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../src/cni/main';

const pods = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 100);
const useTsx = process.argv.includes('--tsx');
const dir = mkdtempSync(join(tmpdir(), 'sl-cni-bench-'));
const socket = join(dir, 'sluice.sock');

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const summary = (xs: number[]): string => `median ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

function stdinFor(i: number): string {
  const prevResult = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'cni0', mac: '02:00:00:00:00:01' }, { name: `veth${i}`, mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: `/run/netns/pod${i}` }],
    ips: [{ address: `198.18.${40 + (i >> 8)}.${i & 0xff}/16`, gateway: '198.18.40.1', interface: 2 }],
  };
  return JSON.stringify({
    cniVersion: '1.0.0', name: 'pods', type: 'sluice', stateDir: join(dir, 'state'), controlSocket: socket, prevResult,
    runtimeConfig: { bandwidth: { ingressRate: 20_000_000, egressRate: 10_000_000 }, 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': '5mbit' } },
  });
}

const envFor = (i: number, command = 'ADD'): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'], CNI_COMMAND: command, CNI_CONTAINERID: `bench${i}`, CNI_NETNS: `/run/netns/pod${i}`, CNI_IFNAME: 'eth0', CNI_ARGS: `K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`,
});

function runPlugin(i: number): Promise<number> {
  const started = performance.now();
  const [cmd, args] = useTsx ? [resolve('node_modules/.bin/tsx'), [resolve('src/cni/main.ts')]] : [process.execPath, [resolve('bin/sluice-cni.js')]];
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env: envFor(i), stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => (code === 0 ? done(performance.now() - started) : fail(new Error(`ADD ${i} exited ${code}: ${out}`))));
    child.stdin.end(stdinFor(i));
  });
}

async function sequential(label: string): Promise<void> {
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  const times: number[] = [];
  for (let i = 0; i < pods; i++) times.push(await runPlugin(i));
  console.log(`${label}: ${pods} ADDs one after another, each a process: ${summary(times)}`);
}

async function parallel(label: string): Promise<void> {
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  const started = performance.now();
  const times = await Promise.all(Array.from({ length: pods }, (_, i) => runPlugin(i)));
  console.log(`${label}: ${pods} ADDs at once: all done in ${(performance.now() - started).toFixed(0)} ms; each ${summary(times)}`);
}

async function inProcess(): Promise<void> {
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  const times: number[] = [];
  for (let i = 0; i < pods; i++) {
    const started = performance.now();
    const code = await main(stdinFor(i), envFor(i), () => undefined);
    if (code !== 0) throw new Error(`in-process ADD ${i} failed`);
    times.push(performance.now() - started);
  }
  console.log(`in-process (the plugin's own work: record under the lock, poke): ${summary(times)}`);
}

/** A control socket that reads the pokes as serve's does. */
function listen(): Promise<{ server: Server; pokes: () => number }> {
  let pokes = 0;
  const server = createServer((s) => s.on('data', () => pokes++).on('error', () => undefined));
  return new Promise((done) => server.listen(socket, () => done({ server, pokes: () => pokes })));
}

async function run(): Promise<void> {
  console.log(`plugin: ${useTsx ? 'src/cni/main.ts under tsx' : 'bin/sluice-cni.js (dist/)'}, node ${process.version}`);
  await sequential('no daemon');
  await parallel('no daemon');
  const daemon = await listen();
  await sequential('daemon listening');
  await parallel('daemon listening');
  await inProcess();
  daemon.server.close();
  console.log(`pokes received: ${daemon.pokes()}`);
  rmSync(dir, { recursive: true, force: true });
}

void run();
