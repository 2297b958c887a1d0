// Shared helpers for real-kernel tests: skip when not root, run `ip`/`tc` for
// independent checks, and make sure no `sl-` namespace of a test outlives it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

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
