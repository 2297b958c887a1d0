// `send`: one TCP connection, written as fast as TCP accepts. Large writes and waiting
// for 'drain' mean the kernel socket buffer, not Node, sets the pace (back-pressure).
import * as net from 'node:net';
import { emitError, type LoadgenIo } from './io';
import { encodeHeader, monotonicMs, type SendOptions } from './protocol';

/** How long a graceful end may take to flush queued bytes through a slow shaped path. */
const END_GRACE_MS = 3000;

export function runSender(options: SendOptions, io: LoadgenIo): Promise<number> {
  // One buffer reused for every write: Node never copies it and we never modify it.
  const payload = Buffer.alloc(options.writeBytes, 0x5a);
  let sent = 0;
  let sending = !options.paused;
  let pumping = false;
  const emitSample = (): void => io.emit({ type: 'sample', t: monotonicMs(), id: options.id, bytes: sent });

  const socket = net.connect({
    host: options.to.host,
    port: options.to.port,
    localAddress: options.bind,
    // Two writes in flight: the kernel always has the next megabyte while we wait for drain.
    writableHighWaterMark: options.writeBytes * 2,
  } as net.NetConnectOpts);

  const onWritten = (error?: Error | null): void => {
    if (!error) sent += payload.length;
  };

  const pump = (): void => {
    if (pumping || socket.destroyed || !socket.writable) return;
    pumping = true;
    while (sending && socket.write(payload, onWritten)) {
      // keep writing while the stream is below its high-water mark
    }
    pumping = false;
    if (sending) socket.once('drain', pump);
  };

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (code: number, graceful: boolean): void => {
      if (finished) return;
      finished = true;
      sending = false;
      if (timer !== undefined) clearInterval(timer);
      emitSample();
      if (!graceful || socket.destroyed) {
        socket.destroy();
        resolve(code);
        return;
      }
      const force = setTimeout(() => socket.destroy(), END_GRACE_MS);
      socket.once('close', () => {
        clearTimeout(force);
        resolve(code);
      });
      socket.end();
    };

    socket.on('error', (error) => {
      emitError(io, `send ${options.id} to ${options.to.host}:${options.to.port}: ${error.message}`);
      finish(1, false);
    });
    socket.on('close', () => finish(0, false));
    socket.on('connect', () => {
      socket.write(encodeHeader(options.id));
      io.emit({ type: 'connected', t: monotonicMs(), id: options.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
      io.emit({ type: 'ready', t: monotonicMs(), role: 'send', address: socket.localAddress ?? '', port: socket.localPort ?? 0 });
      timer = setInterval(emitSample, options.intervalMs);
      if (options.durationS !== undefined) setTimeout(() => finish(0, true), options.durationS * 1000);
      pump();
    });
    io.listen((command) => {
      switch (command.cmd) {
        case 'start':
          sending = true;
          pump();
          break;
        case 'stop':
          sending = false;
          emitSample();
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
