// The npm package as an operator gets it: `npm pack` of this checkout, then `npm install -g`
// of that tarball into a prefix. Used by the image build (scripts/build-image.ts: the
// image holds exactly what the package installs) and by the package test.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..');

export const packageVersion = (): string => (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program (never a shell) to its end; rejects only when it cannot start or outlives `timeoutMs`. */
export function runProgram(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<Finished> {
  return new Promise((done, fail) => {
    const child = spawn(command, [...args], { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${command} ${args.join(' ')} ran over ${options.timeoutMs} ms:\n${stderr.slice(-2000)}`));
    }, options.timeoutMs ?? 600_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(new Error(`${command}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

async function mustRun(command: string, args: readonly string[], options: Parameters<typeof runProgram>[2] = {}): Promise<Finished> {
  const r = await runProgram(command, args, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}:\n${(r.stderr || r.stdout).split('\n').slice(-25).join('\n')}`);
  return r;
}

/**
 * The environment of an operator's npm: none of the npm_* variables that npm exports to
 * the scripts it runs (a test run by `npm test` would otherwise hand its own nodedir,
 * prefix and user config down), a HOME of its own so no ~/.npmrc applies, and the
 * machine's npm cache, so packages already fetched are not fetched again.
 */
export async function cleanNpmEnv(home: string): Promise<NodeJS.ProcessEnv> {
  const cache = (await mustRun('npm', ['config', 'get', 'cache'])).stdout.trim();
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, HOME: home, npm_config_cache: cache, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

/** `npm pack` of this checkout into `dir` (prepack empties dist/, prepare compiles it); the tarball's path. */
export async function packTarball(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const r = await mustRun('npm', ['pack', '--json', '--pack-destination', dir], { env });
  const [packed] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed no tarball:\n${r.stdout}`);
  return join(dir, packed.filename);
}

/**
 * `npm install -g <tarball>` into `prefix`, as an operator runs it (no flags): npm 11 runs
 * the package's install script (the addon build) with a notice that it is not covered by
 * an allowScripts policy. The package then lives in <prefix>/lib/node_modules/sluice.
 */
export async function installGlobally(tarball: string, prefix: string, env: NodeJS.ProcessEnv): Promise<Finished> {
  return mustRun('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { env, cwd: prefix });
}

export const installedPackage = (prefix: string): string => join(prefix, 'lib', 'node_modules', 'sluice');

/** A tarball of this checkout installed globally into a prefix; the install's stderr (npm's and the addon build's). */
export interface Installed {
  readonly tarball: string;
  readonly prefix: string;
  readonly installLog: string;
}

/** `npm pack`, then `npm install -g` of the tarball into `dir`/prefix, with npm as an operator has it (HOME `dir`/home). */
export async function packAndInstall(dir: string): Promise<Installed> {
  const prefix = join(dir, 'prefix');
  for (const d of [prefix, join(dir, 'home')]) mkdirSync(d, { recursive: true });
  const env = await cleanNpmEnv(join(dir, 'home'));
  const tarball = await packTarball(dir, env);
  const installLog = (await installGlobally(tarball, prefix, env)).stderr;
  return { tarball, prefix, installLog };
}
