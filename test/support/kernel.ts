// Shared helpers for real-kernel tests: describeKernel (fails, never skips, when the
// machine cannot run them), `ip`/`tc` for independent checks, and making sure no `sl-`
// namespace of a test outlives it.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Programs a kernel test drives besides Sluice (ip and tc are always needed). */
export type Tool = 'ip' | 'tc' | 'nsenter' | 'setpriv' | 'iperf3' | 'prometheus' | 'promtool' | 'tmux' | 'dockerd' | 'docker' | 'podman' | 'debootstrap' | 'systemd-analyze' | 'npm' | 'containerd' | 'runc' | 'ctr' | 'gcc' | 'ethtool';

/**
 * setpriv's arguments for uid 65534 with no capability but reading any file
 * (CAP_DAC_READ_SEARCH, ambient): CI's clone may sit under a directory others cannot read
 * (/root), and what such a run tests is the missing root, not the file modes.
 */
export const AS_NOBODY: readonly string[] = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];

/** Set to 1 to skip every kernel test on purpose; the run says so. */
export const SKIP_KERNEL_ENV = 'SLUICE_SKIP_KERNEL';

export function onPath(tool: string, path: string = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What this machine lacks to run a kernel test needing `tools`: root, then missing programs. */
export function missingFor(tools: readonly Tool[], root: boolean = isRoot, has: (tool: string) => boolean = onPath): string[] {
  return [...(root ? [] : ['root (CAP_NET_ADMIN, CAP_SYS_ADMIN)']), ...['ip', 'tc', ...tools].filter((t, i, all) => all.indexOf(t) === i && !has(t)).map((t) => `${t} on PATH`)];
}

/**
 * A kernel test suite. A kernel test that cannot run here FAILS, naming what is missing:
 * a green run must mean the kernel was tested. SLUICE_SKIP_KERNEL=1 skips on purpose and
 * says so (CI refuses any skip).
 */
export function describeKernel(name: string, tools: readonly Tool[], body: () => void): void {
  if (process.env[SKIP_KERNEL_ENV] === '1') {
    console.warn(`kernel test skipped on purpose (${SKIP_KERNEL_ENV}=1): ${name}`);
    describe.skip(name, body);
    return;
  }
  const missing = missingFor(tools);
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it('can run on this machine', () => {
      throw new Error(`kernel test "${name}" needs ${missing.join(', ')}. Run it as root after scripts/setup.sh, or set ${SKIP_KERNEL_ENV}=1 to skip the kernel tests on purpose.`);
    });
  });
}

/** `promtool check metrics` on an exposition: its exit code and whatever it says (nothing when clean). */
export async function promtoolCheck(text: string): Promise<{ code: number | null; complaints: string }> {
  const check = spawn('promtool', ['check', 'metrics']);
  check.stdin.end(text);
  let complaints = '';
  check.stdout.on('data', (d: Buffer) => (complaints += d.toString()));
  check.stderr.on('data', (d: Buffer) => (complaints += d.toString()));
  const code = await new Promise<number | null>((r) => check.on('exit', r));
  return { code, complaints };
}

export async function sh(cmd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(cmd, [...args], { maxBuffer: 64 << 20 });
  return stdout;
}

export async function netnsList(): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.length > 0);
}

/** Deletes namespaces with the given prefix (best effort), for afterEach. */
export async function removeNamespaces(prefix: string): Promise<void> {
  for (const ns of await netnsList()) {
    if (ns.startsWith(prefix)) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

/** Polls `check` every `intervalMs` until it holds; fails naming `what` after `timeoutMs`. A wait on a condition, never a fixed sleep. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
