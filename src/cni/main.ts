// The executable a runtime runs as the CNI plugin `sluice` (bin/sluice-cni.js): stdin
// and the CNI_* environment in, the spec's JSON on stdout, exit 0 or 1. Only ADD's path
// is kept light (no kernel, no policy code loaded): runtimes wait on it for every pod.

import { readlinkSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { basename } from 'node:path';
import { guessHostSide, hostInterfaces, type Attachment, type HostSide } from './attachment';
import { runPlugin, type PluginDeps } from './plugin';
import { CNI_ERROR, CniError, parseRequest, versionOfInput, type PrevResult } from './protocol';
import { AttachmentStore } from './store';

const POKE_TIMEOUT_MS = 200;

export const systemDeps: PluginDeps = {
  storeFor: (dir) => new AttachmentStore(dir),
  hostSide: findHostSide,
  poke,
  missingShaping: async (a: Attachment) => (await import('./check')).missingShaping(a),
};

/** What the plugin answers a runtime: its exit status and the JSON it prints (none: nothing). */
export interface PluginReply {
  readonly code: number;
  readonly output: Record<string, unknown> | undefined;
}

/** One invocation, answered: the executable's path, and `serve` answering for its native shim. */
export async function answer(stdin: string, env: Readonly<Record<string, string | undefined>>, deps: PluginDeps = systemDeps): Promise<PluginReply> {
  try {
    return { code: 0, output: await runPlugin(parseRequest(env, stdin), deps) };
  } catch (e) {
    const error = e instanceof CniError ? e : new CniError(CNI_ERROR.internal, `sluice plugin failed: ${(e as Error).message}`, 'a bug in the plugin: please report this with the network configuration');
    // In the version the runtime speaks, also when the request was refused before it parsed.
    return { code: 1, output: error.toJson(versionOfInput(stdin)) };
  }
}

export async function main(stdin: string, env: NodeJS.ProcessEnv, out: (text: string) => void, deps: PluginDeps = systemDeps): Promise<number> {
  const reply = await answer(stdin, env, deps);
  if (reply.output) out(JSON.stringify(reply.output));
  return reply.code;
}

/**
 * The host veth is the result's host-side interface that sysfs says is a bridge port; its
 * master is the bridge. In line: serve answers ADDs with this, and each call through the
 * thread pool waited for a turn of its event loop (sysfs answers in microseconds).
 */
async function findHostSide(prev: PrevResult | undefined): Promise<HostSide> {
  for (const name of hostInterfaces(prev)) {
    try {
      statSync(`/sys/class/net/${name}/brport`);
      return { hostVeth: name, bridge: basename(readlinkSync(`/sys/class/net/${name}/master`)) };
    } catch {
      // Not a bridge port (the bridge itself), or not in this namespace.
    }
  }
  return guessHostSide(prev);
}

/** One line to the control socket; no answer awaited (the daemon reloads on its own time). */
function poke(socket: string, reason: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = createConnection(socket);
    const timer = setTimeout(() => {
      conn.destroy();
      resolve(false);
    }, POKE_TIMEOUT_MS);
    conn.on('connect', () => conn.end(`${JSON.stringify({ cmd: 'sources-changed', reason })}\n`));
    conn.on('finish', () => {
      clearTimeout(timer);
      conn.destroy();
      resolve(true);
    });
    conn.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export function runFromProcess(): void {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (c: Buffer) => chunks.push(c));
  process.stdin.on('end', () => {
    void main(Buffer.concat(chunks).toString('utf8'), process.env, (text) => process.stdout.write(`${text}\n`)).then((code) => {
      process.exitCode = code;
    });
  });
}

if (require.main === module) runFromProcess();
