// `echo` and `ping`: a light TCP request/response flow for round-trip times through the
// shaped path. Each ping is a small message the echo end sends straight back; the next
// goes out one interval after the previous came back, so at most one is in flight and
// the flow never queues behind itself.
import * as net from 'node:net';
import { emitError, type LoadgenIo } from './io';
import { monotonicMs, type EchoOptions, type PingOptions } from './protocol';

const PING_BYTES = 64;

export function runEcho(options: EchoOptions, io: LoadgenIo): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise<number>((resolve) => {
    const shutdown = (code: number): void => {
      for (const s of sockets) s.destroy();
      server.close();
      resolve(code);
    };
    server.on('error', (error) => {
      emitError(io, `echo ${options.listen.host}:${options.listen.port}: ${error.message}`);
      shutdown(1);
    });
    server.listen(options.listen.port, options.listen.host, () => {
      const address = server.address() as net.AddressInfo;
      io.emit({ type: 'ready', t: monotonicMs(), role: 'echo', address: address.address, port: address.port });
      io.listen(() => undefined, () => shutdown(0));
    });
  });
}

export function runPing(options: PingOptions, io: LoadgenIo): Promise<number> {
  const message = Buffer.alloc(PING_BYTES, 0x70);
  let probing = !options.paused;
  let inFlight = false;
  let sentAt = 0;
  let received = 0;
  let timer: NodeJS.Timeout | undefined;
  const socket = net.connect({ host: options.to.host, port: options.to.port, localAddress: options.bind, noDelay: true } as net.NetConnectOpts);

  const ping = (): void => {
    timer = undefined;
    if (!probing || inFlight || socket.destroyed) return;
    inFlight = true;
    received = 0;
    sentAt = monotonicMs();
    socket.write(message);
  };
  const schedule = (): void => {
    if (probing && timer === undefined && !inFlight) timer = setTimeout(ping, options.intervalMs);
  };

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      probing = false;
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      resolve(code);
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!inFlight || received < PING_BYTES) return;
      inFlight = false;
      io.emit({ type: 'rtt', t: monotonicMs(), id: options.id, ms: monotonicMs() - sentAt });
      schedule();
    });
    socket.on('error', (error) => {
      emitError(io, `ping ${options.id} to ${options.to.host}:${options.to.port}: ${error.message}`);
      finish(1);
    });
    socket.on('close', () => finish(0));
    socket.on('connect', () => {
      io.emit({ type: 'connected', t: monotonicMs(), id: options.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
      io.emit({ type: 'ready', t: monotonicMs(), role: 'ping', address: socket.localAddress ?? '', port: socket.localPort ?? 0 });
      schedule();
    });
    io.listen((command) => {
      switch (command.cmd) {
        case 'start':
          probing = true;
          schedule();
          break;
        case 'stop':
          probing = false;
          break;
        case 'sample':
          break;
        case 'exit':
          finish(0);
          break;
      }
    }, () => finish(0));
  });
}
