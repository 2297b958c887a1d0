// `serve`: accept loadgen senders, discard their data, count payload bytes per sender id.
// These counts are the truth for goodput: they are what TCP delivered, after every queue.
import * as net from 'node:net';
import { emitError, type LoadgenIo } from './io';
import { decodeHeader, monotonicMs, type ServeOptions } from './protocol';

interface ConnectionState {
  id: string | undefined;
  pending: Buffer;
}

export function runServer(options: ServeOptions, io: LoadgenIo): Promise<number> {
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const addBytes = (id: string, n: number): void => {
    counts.set(id, (counts.get(id) ?? 0) + n);
  };
  const emitSamples = (): void => {
    const t = monotonicMs();
    for (const [id, bytes] of counts) io.emit({ type: 'sample', t, id, bytes });
  };

  const onData = (socket: net.Socket, state: ConnectionState, chunk: Buffer): void => {
    if (state.id !== undefined) {
      addBytes(state.id, chunk.length);
      return;
    }
    state.pending = Buffer.concat([state.pending, chunk]);
    try {
      const header = decodeHeader(state.pending);
      if (header === undefined) return;
      state.id = header.id;
      state.pending = Buffer.alloc(0);
      addBytes(header.id, header.payloadBytes);
      io.emit({ type: 'connected', t: monotonicMs(), id: header.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    } catch (error) {
      emitError(io, `from ${socket.remoteAddress}:${socket.remotePort}: ${(error as Error).message}`);
      socket.destroy();
    }
  };

  const server = net.createServer((socket) => {
    const state: ConnectionState = { id: undefined, pending: Buffer.alloc(0) };
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => onData(socket, state, chunk));
    socket.on('error', () => undefined); // a sender killed mid-stream resets; its count stands
    socket.on('close', () => {
      sockets.delete(socket);
      if (state.id !== undefined) io.emit({ type: 'closed', t: monotonicMs(), id: state.id, bytes: counts.get(state.id) ?? 0 });
    });
  });

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const shutdown = (code: number): void => {
      if (timer !== undefined) clearInterval(timer);
      emitSamples();
      for (const socket of sockets) socket.destroy();
      server.close();
      resolve(code);
    };
    server.on('error', (error) => {
      emitError(io, `listen ${options.listen.host}:${options.listen.port}: ${error.message}`);
      shutdown(1);
    });
    server.listen(options.listen.port, options.listen.host, () => {
      const address = server.address() as net.AddressInfo;
      io.emit({ type: 'ready', t: monotonicMs(), role: 'serve', address: address.address, port: address.port });
      timer = setInterval(emitSamples, options.intervalMs);
      io.listen((command) => {
        if (command.cmd === 'sample') emitSamples();
      }, () => shutdown(0));
    });
  });
}
