// The executable a runtime runs as the CNI plugin `sluice` (bin/sluice-cni.js): stdin
// and the CNI_* environment in, the spec's JSON on stdout, exit 0 or 1. Only ADD's path
// is kept light (no kernel, no policy code loaded): runtimes wait on it for every pod.

import { readlink, stat } from 'node:fs/promises';
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

export async function main(stdin: string, env: NodeJS.ProcessEnv, out: (text: string) => void, deps: PluginDeps = systemDeps): Promise<number> {
  try {
    const output = await runPlugin(parseRequest(env, stdin), deps);
    if (output) out(JSON.stringify(output));
    return 0;
  } catch (e) {
    const error = e instanceof CniError ? e : new CniError(CNI_ERROR.internal, `sluice plugin failed: ${(e as Error).message}`, 'a bug in the plugin: please report this with the network configuration');
    // In the version the runtime speaks, also when the request was refused before it parsed.
    out(JSON.stringify(error.toJson(versionOfInput(stdin))));
    return 1;
  }
}

/** The host veth is the result's host-side interface that sysfs says is a bridge port; its master is the bridge. */
async function findHostSide(prev: PrevResult | undefined): Promise<HostSide> {
  for (const name of hostInterfaces(prev)) {
    try {
      await stat(`/sys/class/net/${name}/brport`);
      return { hostVeth: name, bridge: basename(await readlink(`/sys/class/net/${name}/master`)) };
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
