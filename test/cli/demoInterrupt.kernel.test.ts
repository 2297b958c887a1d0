// `sluice demo` interrupted with Ctrl-C (SIGINT) in the middle of a phase leaves nothing
// behind: no namespace, no ownership record, none of the load generators it started. It
// runs its own copy of the demo policy (sl-di-… namespaces, host di-demo), never the
// operator's sl-host or /run/sluice/owned-demo.json (the routed peer is still the demo's
// one sl-peer), and looks only at its own process tree, never at every process on the
// host. Runtime: ~15 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { EXIT } from '../../src/cli/output';
import { PEER_NETNS } from '../../src/demo/peer';
import { lockFileFor } from '../../src/host/lock';
import { writeDemoPolicy } from '../support/cli';
import { describeKernel, netnsList, removeNamespaces, sh, until } from '../support/kernel';

const PREFIX = 'di-';
const DEMO_NAMESPACES = ['host', 'web', 'api', 'batch', 'backup'].map((n) => `sl-${PREFIX}${n}`);
const RECORD = `/run/sluice/owned-${PREFIX}demo.json`;

/** Every live process descended from `root` (children, theirs, …), from /proc, with its command line. */
function descendants(root: number): { pid: number; command: string }[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while listing
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const [child, parent] of parentOf) if (parent === pid) (found.push(child), queue.push(child));
  }
  const command = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return '?';
    }
  };
  return found.map((pid) => ({ pid, command: command(pid) }));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resolves once `output()` contains `text`; rejects if the child exits first or `timeoutMs` passes. */
function outputShows(child: ChildProcess, output: () => string, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => done(new Error(`"${text}" did not appear within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const check = (): void => {
      if (output().includes(text)) done();
    };
    const exited = (code: number | null): void => done(new Error(`the demo exited (${code}) before "${text}":\n${output()}`));
    const done = (error?: Error): void => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', exited);
      if (error) reject(error);
      else resolvePromise();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', exited);
    check();
  });
}

describeKernel('sluice demo, interrupted', [], () => {
  it('Ctrl-C during a phase removes everything the demo made', async () => {
    const dir = mkdtempSync(join(tmpdir(), `sl-${PREFIX}`));
    const policy = writeDemoPolicy(dir, PREFIX);
    let child: ChildProcess | undefined;
    try {
      child = spawn(resolve('node_modules/.bin/tsx'), [resolve('scripts/sluice-dev.ts'), 'demo', policy, '--phase-seconds', '3', '--latency-seconds', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<number | null>((r) => child!.once('exit', r));
      await outputShows(child, () => out, 'phase "rank"', 60_000);
      expect((await netnsList()).filter((n) => DEMO_NAMESPACES.includes(n) || n === PEER_NETNS).sort()).toEqual([...DEMO_NAMESPACES, PEER_NETNS].sort());
      expect(existsSync(RECORD)).toBe(true);
      // The demo's own load generators, among its descendants (tsx → node → loadgens).
      const started = descendants(child.pid!);
      expect(started.length).toBeGreaterThan(2);
      child.kill('SIGINT');
      expect(await exit).toBe(EXIT.interrupted);
      expect(out).toContain('removing the sandbox');
      expect((await netnsList()).filter((n) => n.startsWith(`sl-${PREFIX}`) || n === PEER_NETNS)).toEqual([]);
      expect(existsSync(RECORD)).toBe(false);
      // A killed child may take a moment to be reaped; a load generator left running would not go at all.
      await until('the demo\'s processes gone', () => started.filter((p) => alive(p.pid)).length === 0, 5000).catch(() => undefined);
      expect(started.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.command}`)).toEqual([]);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // Whatever the test saw, nothing of its demo outlives it.
      await sh(resolve('node_modules/.bin/tsx'), [resolve('scripts/sluice-dev.ts'), 'destroy', policy]).catch(() => undefined);
      await removeNamespaces(`sl-${PREFIX}`);
      rmSync(lockFileFor(`sl-${PREFIX}host`), { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
