// `send`: one or more TCP connections to one receiver, written as fast as TCP accepts,
// counted under one id. Large writes and waiting for 'drain' mean the kernel socket
// buffer, not Node, sets the pace (back-pressure).
import * as net from 'node:net';
import { emitError, type LoadgenIo } from './io';
import { encodeHeader, monotonicMs, type SendOptions } from './protocol';

/** How long a graceful end may take to flush queued bytes through a slow shaped path. */
const END_GRACE_MS = 3000;

interface Flow {
  readonly socket: net.Socket;
  pumping: boolean;
}

export function runSender(options: SendOptions, io: LoadgenIo): Promise<number> {
  // One buffer reused for every write: Node never copies it and we never modify it.
  const payload = Buffer.alloc(options.writeBytes, 0x5a);
  let sent = 0;
  // Every byte handed to write(), flushed or still in Node's buffer: all of it will arrive.
  let committed = 0;
  let sending = !options.paused;
  let connected = 0;
  const flows: Flow[] = [];
  const emitSample = (): void => io.emit({ type: 'sample', t: monotonicMs(), id: options.id, bytes: sent });
  const onWritten = (error?: Error | null): void => {
    if (!error) sent += payload.length;
  };

  const write = (socket: net.Socket): boolean => {
    committed += payload.length;
    return socket.write(payload, onWritten);
  };

  const pump = (flow: Flow): void => {
    const { socket } = flow;
    if (flow.pumping || socket.destroyed || !socket.writable || socket.connecting) return;
    flow.pumping = true;
    while (sending && write(socket)) {
      // keep writing while the stream is below its high-water mark
    }
    flow.pumping = false;
    if (sending) socket.once('drain', () => pump(flow));
  };
  const pumpAll = (): void => flows.forEach(pump);

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (code: number, graceful: boolean): void => {
      if (finished) return;
      finished = true;
      sending = false;
      if (timer !== undefined) clearInterval(timer);
      emitSample();
      const open = flows.filter((f) => !f.socket.destroyed);
      if (!graceful || open.length === 0) {
        for (const f of flows) f.socket.destroy();
        resolve(code);
        return;
      }
      const force = setTimeout(() => open.forEach((f) => f.socket.destroy()), END_GRACE_MS);
      let closed = 0;
      for (const f of open) {
        f.socket.once('close', () => {
          if (++closed < open.length) return;
          clearTimeout(force);
          resolve(code);
        });
        f.socket.end();
      }
    };

    const onConnect = (socket: net.Socket): void => {
      socket.write(encodeHeader(options.id));
      if (++connected < options.flows) return;
      // One connected/ready pair for the sender, once every flow is up.
      io.emit({ type: 'connected', t: monotonicMs(), id: options.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
      io.emit({ type: 'ready', t: monotonicMs(), role: 'send', address: socket.localAddress ?? '', port: socket.localPort ?? 0 });
      timer = setInterval(emitSample, options.intervalMs);
      if (options.durationS !== undefined) setTimeout(() => finish(0, true), options.durationS * 1000);
      pumpAll();
    };

    for (let i = 0; i < options.flows; i++) {
      const socket = net.connect({
        host: options.to.host,
        port: options.to.port,
        localAddress: options.bind,
        // Two writes in flight: the kernel always has the next write while we wait for drain, and
        // a pause leaves little in Node (what a phase change then waits for: demo/traffic switchTo).
        writableHighWaterMark: options.writeBytes * 2,
      } as net.NetConnectOpts);
      flows.push({ socket, pumping: false });
      socket.on('error', (error) => {
        emitError(io, `send ${options.id} to ${options.to.host}:${options.to.port}: ${error.message}`);
        finish(1, false);
      });
      // One flow closing by itself ends the run: its share would silently go to the others.
      socket.on('close', () => finish(0, false));
      socket.on('connect', () => onConnect(socket));
    }
    io.listen((command) => {
      switch (command.cmd) {
        case 'start':
          sending = true;
          if (connected === options.flows) pumpAll();
          break;
        case 'stop':
          sending = false;
          emitSample();
          io.emit({ type: 'stopped', t: monotonicMs(), id: options.id, bytes: committed });
          break;
        case 'sample':
          emitSample();
          break;
        case 'exit':
          finish(0, false);
          break;
      }
    }, () => finish(0, false));
  });
}
