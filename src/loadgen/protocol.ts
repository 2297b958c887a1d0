// The loadgen's wire and control protocol, pure: argument parsing, the JSON lines a
// loadgen process prints on stdout, the JSON commands it reads on stdin, and the one
// header line a sender writes before its payload so the receiver can count per id.

/** An IPv4 or IPv6 address with a TCP port. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export type LoadgenMode = 'serve' | 'send' | 'echo' | 'ping';

export interface ServeOptions {
  readonly mode: 'serve';
  readonly listen: Endpoint;
  readonly intervalMs: number;
  /** When false the process does not read stdin and runs until a signal. */
  readonly readStdin: boolean;
}

export interface SendOptions {
  readonly mode: 'send';
  readonly to: Endpoint;
  readonly id: string;
  readonly bind: string | undefined;
  /** Stop and exit after this many seconds of sending; undefined: until told to stop. */
  readonly durationS: number | undefined;
  /** Connect, then wait for {"cmd":"start"} before sending. */
  readonly paused: boolean;
  readonly intervalMs: number;
  readonly readStdin: boolean;
  /** Size of each write; large writes keep the per-byte cost of Node low. */
  readonly writeBytes: number;
  /** Parallel TCP connections, counted together under the id. */
  readonly flows: number;
}

/** `echo`: send back every byte received (the far end of `ping`). */
export interface EchoOptions {
  readonly mode: 'echo';
  readonly listen: Endpoint;
  readonly intervalMs: number;
  readonly readStdin: boolean;
}

/**
 * `ping`: one TCP connection carrying a small message every intervalMs, each waiting for
 * its echo; the round trip of each is an 'rtt' event. A light flow whose latency shows
 * the queueing the shaper adds, without ICMP.
 */
export interface PingOptions {
  readonly mode: 'ping';
  readonly to: Endpoint;
  readonly id: string;
  readonly bind: string | undefined;
  readonly paused: boolean;
  readonly intervalMs: number;
  readonly readStdin: boolean;
}

export type LoadgenOptions = ServeOptions | SendOptions | EchoOptions | PingOptions;

/** Commands a parent writes to the loadgen's stdin, one JSON object per line. */
export type LoadgenCommand =
  | { readonly cmd: 'start' } // sender: begin or resume sending (server: no-op, acknowledged)
  | { readonly cmd: 'stop' } // sender: pause sending, keep the connection (server: no-op, acknowledged)
  | { readonly cmd: 'sample' } // print a sample line now, e.g. at a phase boundary
  | { readonly cmd: 'exit' }; // final samples, close, exit 0

/** Lines a loadgen prints on stdout, one JSON object per line. `t` is CLOCK_MONOTONIC in ms. */
export type LoadgenEvent =
  | { readonly type: 'sample'; readonly t: number; readonly id: string; readonly bytes: number }
  | { readonly type: 'ready'; readonly t: number; readonly role: LoadgenMode; readonly address: string; readonly port: number }
  | { readonly type: 'connected'; readonly t: number; readonly id: string; readonly peer: string }
  | { readonly type: 'closed'; readonly t: number; readonly id: string; readonly bytes: number }
  // A sender paused: `bytes` is all the payload it has written, so the pause is over at the
  // receiver once it has counted that many (the socket buffers still hold megabytes).
  | { readonly type: 'stopped'; readonly t: number; readonly id: string; readonly bytes: number }
  | { readonly type: 'ack'; readonly t: number; readonly cmd: LoadgenCommand['cmd'] }
  | { readonly type: 'rtt'; readonly t: number; readonly id: string; readonly ms: number }
  | { readonly type: 'error'; readonly t: number; readonly message: string };

export const DEFAULT_INTERVAL_MS = 100;
export const DEFAULT_WRITE_BYTES = 1 << 17;

/** The sender's first bytes: `SLUICE-LG <id>\n`. The receiver does not count them as payload. */
export const HEADER_PREFIX = 'SLUICE-LG ';
export const MAX_HEADER_BYTES = 256;

export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = 'UsageError';
  }
}

export const USAGE = [
  'usage: loadgen serve --listen <ip:port> [--interval ms] [--no-stdin]',
  '       loadgen send --to <ip:port> --id <name> [--bind <ip>] [--duration s] [--paused]',
  '                    [--interval ms] [--write-bytes n] [--flows n] [--no-stdin]',
  '       loadgen echo --listen <ip:port> [--no-stdin]',
  '       loadgen ping --to <ip:port> --id <name> [--bind <ip>] [--interval ms] [--paused] [--no-stdin]',
  'stdin (JSON lines): {"cmd":"start"} {"cmd":"stop"} {"cmd":"sample"} {"cmd":"exit"}; EOF on stdin = exit',
].join('\n');

/** Monotonic milliseconds shared by every process on the host (CLOCK_MONOTONIC), unlike performance.now(). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** `198.18.40.1:5201` or `[fd00::1]:5201`. */
export function parseEndpoint(text: string): Endpoint {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:]+):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new UsageError(`endpoint "${text}" is not <ip>:<port> (IPv6 as [addr]:port)`);
  }
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`port in "${text}" must be 1..65535`);
  }
  return { host: match[1], port };
}

export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

type FlagValues = Map<string, string | true>;

const VALUE_FLAGS = new Set(['--listen', '--to', '--id', '--bind', '--duration', '--interval', '--write-bytes', '--flows']);
const BOOLEAN_FLAGS = new Set(['--paused', '--no-stdin']);

function readFlags(args: readonly string[]): FlagValues {
  const flags: FlagValues = new Map();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (BOOLEAN_FLAGS.has(arg)) {
      flags.set(arg, true);
    } else if (VALUE_FLAGS.has(arg)) {
      const value = args[i + 1];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      flags.set(arg, value);
      i++;
    } else {
      throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  return flags;
}

function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

function requiredFlag(flags: FlagValues, name: string): string {
  const value = stringFlag(flags, name);
  if (value === undefined) throw new UsageError(`${name} is required`);
  return value;
}

function positiveNumberFlag(flags: FlagValues, name: string, fallback: number | undefined): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${name} must be a positive number, got "${text}"`);
  return value;
}

const MAX_FLOWS = 64;

function integerFlag(flags: FlagValues, name: string, fallback: number, max: number): number {
  const value = positiveNumberFlag(flags, name, fallback) as number;
  if (!Number.isInteger(value) || value > max) throw new UsageError(`${name} must be a whole number 1..${max}, got "${value}"`);
  return value;
}

/** Parses `serve ...` / `send ...` (argv without node and the script). */
export function parseArgs(argv: readonly string[]): LoadgenOptions {
  const [mode, ...rest] = argv;
  const flags = readFlags(rest);
  const intervalMs = positiveNumberFlag(flags, '--interval', DEFAULT_INTERVAL_MS) as number;
  const readStdin = flags.get('--no-stdin') !== true;
  if (mode === 'serve') {
    return { mode, listen: parseEndpoint(requiredFlag(flags, '--listen')), intervalMs, readStdin };
  }
  if (mode === 'echo') return { mode, listen: parseEndpoint(requiredFlag(flags, '--listen')), intervalMs, readStdin };
  if (mode === 'ping') {
    return { mode, to: parseEndpoint(requiredFlag(flags, '--to')), id: idFlag(flags), bind: stringFlag(flags, '--bind'), paused: flags.get('--paused') === true, intervalMs, readStdin };
  }
  if (mode === 'send') {
    const id = idFlag(flags);
    return {
      mode,
      to: parseEndpoint(requiredFlag(flags, '--to')),
      id,
      bind: stringFlag(flags, '--bind'),
      durationS: positiveNumberFlag(flags, '--duration', undefined),
      paused: flags.get('--paused') === true,
      intervalMs,
      readStdin,
      writeBytes: Math.floor(positiveNumberFlag(flags, '--write-bytes', DEFAULT_WRITE_BYTES) as number),
      flows: integerFlag(flags, '--flows', 1, MAX_FLOWS),
    };
  }
  throw new UsageError(`mode must be "serve", "send", "echo" or "ping", got "${mode ?? ''}"`);
}

function idFlag(flags: FlagValues): string {
  const id = requiredFlag(flags, '--id');
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(id)) throw new UsageError(`--id "${id}" must be 1-64 of [A-Za-z0-9_.:-]`);
  return id;
}

const COMMANDS: ReadonlySet<string> = new Set(['start', 'stop', 'sample', 'exit']);

/** One stdin line to a command; undefined for blank lines; throws on anything else. */
export function parseCommand(line: string): LoadgenCommand | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  const value: unknown = JSON.parse(trimmed);
  if (typeof value === 'object' && value !== null && 'cmd' in value) {
    const cmd = (value as { cmd: unknown }).cmd;
    if (typeof cmd === 'string' && COMMANDS.has(cmd)) return { cmd } as LoadgenCommand;
  }
  throw new Error(`unknown command line ${trimmed} (expected {"cmd":"start"|"stop"|"sample"|"exit"})`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** One stdout line of a loadgen to an event; undefined for lines that are not loadgen events. */
export function parseEvent(line: string): LoadgenEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value['type'] !== 'string' || typeof value['t'] !== 'number') return undefined;
  switch (value['type']) {
    case 'sample':
    case 'closed':
    case 'stopped':
      return typeof value['id'] === 'string' && typeof value['bytes'] === 'number' ? (value as LoadgenEvent) : undefined;
    case 'rtt':
      return typeof value['id'] === 'string' && typeof value['ms'] === 'number' ? (value as LoadgenEvent) : undefined;
    case 'ready':
    case 'connected':
    case 'ack':
    case 'error':
      return value as LoadgenEvent;
    default:
      return undefined;
  }
}

export function formatEvent(event: LoadgenEvent): string {
  return `${JSON.stringify(event)}\n`;
}

export function encodeHeader(id: string): Buffer {
  return Buffer.from(`${HEADER_PREFIX}${id}\n`, 'latin1');
}

/**
 * Splits the header off the first bytes of a connection. `pending` is what arrived so
 * far; returns the id and the payload bytes that followed it, or undefined while the
 * newline has not arrived. Throws when the peer is not a loadgen sender.
 */
export function decodeHeader(pending: Buffer): { id: string; payloadBytes: number } | undefined {
  const newline = pending.indexOf(0x0a);
  if (newline < 0) {
    if (pending.length > MAX_HEADER_BYTES) throw new Error('no loadgen header in the first 256 bytes');
    return undefined;
  }
  const line = pending.subarray(0, newline).toString('latin1');
  if (!line.startsWith(HEADER_PREFIX)) throw new Error(`not a loadgen header: ${JSON.stringify(line.slice(0, 40))}`);
  return { id: line.slice(HEADER_PREFIX.length), payloadBytes: pending.length - newline - 1 };
}
