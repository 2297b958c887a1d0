// Running the built `sluice` (bin/sluice.js → dist/) as a process, as an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { lockFileFor } from '../../src/host/lock';
import { AS_NOBODY, removeNamespaces } from './kernel';
import { buildDist } from './dist';

export const BIN = resolve('bin/sluice.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function sluice(args: readonly string[], options: { asNobody?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
  const [cmd, argv] = options.asNobody ? ['setpriv', [...AS_NOBODY, process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export const json = <T = Record<string, unknown>>(r: CliResult): T => JSON.parse(r.stdout) as T;

/** `sluice serve` in the background; resolves once its control socket answers. */
export async function startServe(args: readonly string[], socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--control-socket', socket, '--metrics-address', 'off', '--tick', '300', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`);
    const status = await sluice(['status', ...args, '--control-socket', socket, '-o', 'json']);
    if (status.code === 0 && (json<{ via: string }>(status).via ?? '').startsWith('daemon')) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error(`serve did not answer on ${socket}: ${stderr}`);
}

export function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

/** The demo policy in the test's own sl-<prefix> namespaces, written to `dir`. */
export function writeDemoPolicy(dir: string, prefix: string): string {
  const text = readFileSync('policies/demo.yaml', 'utf8')
    .replace(/name: demo\b/, `name: ${prefix}demo`)
    .replace(/\bsl-(host|web|api|batch|backup)\b/g, `sl-${prefix}$1`);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

/** What a CLI test works with: its directory, the demo policy in it, a control socket path, and serve once a test starts it. */
export interface CliTestbed {
  readonly dir: string;
  readonly socket: string;
  policy: string;
  serve: ChildProcess | undefined;
}

/**
 * The testbed for one describe, in sl-<prefix> namespaces: dist built, the demo policy
 * written. After its tests: serve stopped, the host destroyed, the namespaces, the lock
 * files of `hosts` (host namespaces the tests used) and the directory removed.
 */
export function cliTestbed(prefix: string, hosts: readonly string[] = [`sl-${prefix}host`]): CliTestbed {
  const dir = mkdtempSync(join(tmpdir(), `sl-${prefix}`));
  const bed: CliTestbed = { dir, socket: join(dir, 'control.sock'), policy: '', serve: undefined };
  beforeAll(async () => {
    buildDist();
    await removeNamespaces(`sl-${prefix}`);
    // Readable by the unprivileged user of an exit-4 case (mkdtemp makes it 0700).
    chmodSync(dir, 0o755);
    bed.policy = writeDemoPolicy(dir, prefix);
  });
  afterAll(async () => {
    if (bed.serve) await stopServe(bed.serve);
    await sluice(['destroy', bed.policy]);
    await removeNamespaces(`sl-${prefix}`);
    // Nobody holds them now; the lock files are the test's to remove.
    for (const netns of hosts) rmSync(lockFileFor(netns), { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return bed;
}
