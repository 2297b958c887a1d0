// bench/pluginSpawn: what a plugin invocation costs before the plugin does anything, as
// bench/peers starts plugins (a Node process spawning `nsenter --net=<ns> <plugin>`):
// /bin/true, then the native `sluice` executable (native/shim) answered at once by a
// socket that stands for serve, each alone and through nsenter. The shim's own part of
// an ADD is its figure less /bin/true's; the rest is the runtime's spawn, which every
// plugin pays. No namespace is made (nsenter enters this process's own), no lock needed.
// Run: npx tsx bench/pluginSpawn.ts [runs=40]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIM } from '../test/support/installCni';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'pluginSpawn',
  usage: `bench/pluginSpawn: what a plugin invocation costs before the plugin does anything: /bin/true and the native shim, alone and through nsenter
  npx tsx bench/pluginSpawn.ts [runs]   (no namespace is made, no lock)
  runs    invocations of each (40)
  --help  this text`,
  positionals: { max: 1, pattern: /^\d+$/ },
});

const runs = Number(process.argv[2] ?? 40);

function timed(cmd: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} exited ${code}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sl-spawn-'));
  const socket = join(dir, 'serve.sock');
  // serve's answer, at once: what is left is the shim's own work and the runtime's spawn.
  const server = createServer((s) => s.once('data', () => s.end(`${JSON.stringify({ ok: true, result: { code: 0, output: { cniVersion: '1.0.0' } } })}\n`)));
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'sl-bench', type: 'sluice', controlSocket: socket, prevResult: { ips: [{ address: '198.18.0.10/24' }] }, runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': '100kbit' } } });
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'sl-spawn', CNI_NETNS: '/run/netns/sl-spawn', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
    const nsenter = ['--net=/proc/self/ns/net'];
    const rows: [string, () => Promise<number>][] = [
      ['/bin/true', () => timed('/bin/true', [], '', env)],
      ['nsenter /bin/true', () => timed('nsenter', [...nsenter, '/bin/true'], '', env)],
      ['sluice (answered at once)', () => timed(SHIM, [], conf, env)],
      ['nsenter sluice (answered at once)', () => timed('nsenter', [...nsenter, SHIM], conf, env)],
    ];
    const times = new Map<string, number[]>(rows.map(([name]) => [name, []]));
    // Interleaved: the machine's load moves all rows alike.
    for (let i = 0; i < runs; i++) for (const [name, run] of rows) times.get(name)!.push(await run());
    for (const [name, xs] of times) console.log(`${name.padEnd(36)} median ${median(xs).toFixed(2)} ms`);
    console.log(`(${runs} runs each, load average ${loadavg()[0]!.toFixed(2)})`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
