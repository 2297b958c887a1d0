// bench/cniAdd: how long the sluice CNI plugin's ADD takes, run as a runtime runs it (a
// process per call, config on stdin, result on stdout), 100 pods one after another and
// 100 at once (a node starting 100 pods): the native plugin (native/shim, what a runtime
// runs as `sluice`) with serve's control socket answering it in-process as the daemon
// does, and with no daemon (it execs the Node plugin); the Node plugin alone, with a
// daemon listening for its poke and with none; and the plugin's own work in-process.
// The Node plugin is the built one (dist/, `npm run build` first; `--tsx` runs the source).
// Run: npx tsx bench/cniAdd.ts [pods=100]

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../src/cni/main';
import { answerCni } from '../src/daemon/cni';
import { serveControl } from '../src/daemon/control';
import { installCni, quietly, SHIM } from '../test/support/installCni';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'cniAdd',
  usage: `bench/cniAdd: how long the sluice CNI plugin's ADD takes, run as a runtime runs it: pods one after another and all at once, native and Node plugin, with and without serve
  npx tsx bench/cniAdd.ts [pods] [--tsx]   (no kernel, no lock: plugin processes, a socket and records under /tmp)
  pods    pods per run (100)
  --tsx   run the Node plugin from the sources under tsx (default: the built dist/, npm run build first)
  --help  this text`,
  switches: ['--tsx'],
  positionals: { max: 1, pattern: /^\d+$/ },
});

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

const nodePlugin: [string, string[]] = useTsx ? [resolve('node_modules/.bin/tsx'), [resolve('src/cni/main.ts')]] : [process.execPath, [resolve('bin/sluice-cni.js')]];
/** As install-cni.js installs it: the native `sluice`, and `sluice-node` beside it. */
const binDir = join(dir, 'bin');
mkdirSync(binDir);
installCni.installExecutables(binDir, SHIM, [nodePlugin[0], ...nodePlugin[1]].join(' '), quietly);
let plugin: [string, string[]] = nodePlugin;

function runPlugin(i: number): Promise<number> {
  const started = performance.now();
  const [cmd, args] = plugin;
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

/** serve's control socket answering the native plugin in-process, as the daemon does (the reload it would start is counted, not run). */
async function answering(): Promise<{ server: Server; reloads: () => number }> {
  let reloads = 0;
  const server = await serveControl(socket, async (request) => {
    if (request.cmd !== 'cni') throw new Error(`unexpected ${request.cmd}`);
    return answerCni(request, { reloadSoon: () => reloads++, shapeSoon: () => Promise.resolve(void reloads++) });
  });
  return { server, reloads: () => reloads };
}

const close = (server: Server): Promise<void> => new Promise((r) => server.close(() => r()));

async function run(): Promise<void> {
  console.log(`native plugin ${SHIM}; Node plugin ${useTsx ? 'src/cni/main.ts under tsx' : 'bin/sluice-cni.js (dist/)'}, node ${process.version}`);
  plugin = [join(binDir, 'sluice'), []];
  const serve = await answering();
  await sequential('native plugin, serve answering');
  await parallel('native plugin, serve answering');
  await close(serve.server);
  console.log(`reloads asked of serve: ${serve.reloads()}`);
  await sequential('native plugin, serve down (execs the Node plugin)');
  plugin = nodePlugin;
  await sequential('Node plugin, no daemon');
  await parallel('Node plugin, no daemon');
  const daemon = await listen();
  await sequential('Node plugin, daemon listening');
  await parallel('Node plugin, daemon listening');
  await inProcess();
  await close(daemon.server);
  console.log(`pokes received: ${daemon.pokes()}`);
  rmSync(dir, { recursive: true, force: true });
}

void run();
