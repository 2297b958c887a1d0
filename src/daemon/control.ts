// The control socket: a unix socket (mode 0600, root only) speaking one JSON request
// per line and one JSON response per line. The CLI uses it while `serve` runs.

import { chmod, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { CniInvocation } from './cni';

export const DEFAULT_CONTROL_SOCKET = '/run/sluice/sluice.sock';

export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'inspect'; readonly container: string }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'tick' }
  /** A source's records changed (the CNI plugin after ADD, DEL, GC): reload soon, answer at once. */
  | { readonly cmd: 'sources-changed'; readonly reason: string }
  /** A CNI invocation the plugin's native shim hands over: answered as the plugin would ({ code, output }). */
  | ({ readonly cmd: 'cni' } & CniInvocation);

/**
 * When a request came (wall-clock ms with fractions, performance.timeOrigin-based, so a
 * bench in another process can line it up with its own spawn of the plugin).
 */
export interface ControlArrival {
  /** The connection was accepted. */
  readonly connectedAt: number;
  /** Its line was complete. */
  readonly receivedAt: number;
}

export type ControlHandler = (request: ControlRequest, arrival: ControlArrival) => Promise<unknown>;

/** Now, as ControlArrival's times are. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export async function serveControl(path: string, handle: ControlHandler): Promise<Server> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await rm(path, { force: true });
  const server = createServer((socket) => onConnection(socket, handle));
  // Created 0600 (umask while it binds), not chmod-ed afterwards: no moment in which
  // another user could connect. The chmod stays for an umask the kernel ignored.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  await chmod(path, 0o600);
  return server;
}

function onConnection(socket: Socket, handle: ControlHandler): void {
  const connectedAt = wallMs();
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      void answer(line, handle, { connectedAt, receivedAt: wallMs() }).then((response) => socket.write(`${JSON.stringify(response)}\n`));
    }
  });
  socket.on('error', () => socket.destroy());
}

async function answer(line: string, handle: ControlHandler, arrival: ControlArrival): Promise<unknown> {
  try {
    const request = JSON.parse(line) as ControlRequest;
    return { ok: true, result: await handle(request, arrival) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** One request over the socket; rejects (ENOENT/ECONNREFUSED) when no daemon runs. */
export function requestControl<T>(path: string, request: ControlRequest, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const socket = createConnection(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      const response = JSON.parse(buffer.slice(0, nl)) as { ok: boolean; result?: T; error?: string };
      if (response.ok) resolve(response.result as T);
      else reject(new Error(response.error));
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
