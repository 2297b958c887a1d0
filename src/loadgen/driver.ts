// The parent's handle on loadgen processes: start a server or a sender inside a network
// namespace (via nsenter, with an argument array), read its JSON lines, drive it over
// stdin, stop it. Every child is registered so that process exit, SIGINT and SIGTERM kill
// it; a child whose parent died anyway sees EOF on stdin and exits by itself.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import {
  formatEndpoint,
  parseEndpoint,
  parseEvent,
  type Endpoint,
  type LoadgenCommand,
  type LoadgenEvent,
  type LoadgenMode,
} from './protocol';

export interface ByteSampleLine {
  readonly t: number;
  readonly bytes: number;
}

export interface RttSample {
  readonly t: number;
  readonly ms: number;
}

type EventOf<K extends LoadgenEvent['type']> = Extract<LoadgenEvent, { type: K }>;

export interface LoadgenChild {
  readonly pid: number;
  readonly role: LoadgenMode;
  /** Cumulative byte samples for one id, in arrival order (t = CLOCK_MONOTONIC ms). */
  samples(id: string): readonly ByteSampleLine[];
  /** The latest cumulative byte count seen for `id` (0 before the first sample). */
  latestBytes(id: string): number;
  /** Round trips measured by a `ping` child: (t, ms) in arrival order. */
  rtts(): readonly RttSample[];
  readonly events: readonly LoadgenEvent[];
  onEvent(listener: (event: LoadgenEvent) => void): void;
  send(command: LoadgenCommand): void;
  /** Resolves with the first event (already seen or future) of `type` that matches. */
  waitFor<K extends LoadgenEvent['type']>(type: K, match?: (event: EventOf<K>) => boolean, timeoutMs?: number): Promise<EventOf<K>>;
  /** Asks for a sample line now and resolves when it has arrived. */
  sampleNow(timeoutMs?: number): Promise<void>;
  /** Sender: {"cmd":"stop"}; resolves with the payload bytes it has written in all (its 'stopped' event). */
  pause(timeoutMs?: number): Promise<number>;
  /** {"cmd":"exit"}, then SIGTERM, then SIGKILL; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
  /** What the child wrote on stderr (for error messages). */
  stderr(): string;
}

export interface LoadgenServerOptions {
  /** Namespace name under /run/netns, or a path such as /proc/<pid>/ns/net; omitted: this namespace. */
  readonly netns?: string;
  readonly listen: Endpoint | string;
  readonly intervalMs?: number;
}

export interface LoadgenSenderOptions {
  readonly netns?: string;
  readonly to: Endpoint | string;
  readonly id: string;
  readonly bind?: string;
  readonly durationS?: number;
  /** Connect, but send nothing until send({cmd:'start'}). */
  readonly paused?: boolean;
  readonly intervalMs?: number;
  readonly writeBytes?: number;
  /** Parallel TCP connections counted under the one id (default 1). */
  readonly flows?: number;
}

const DEFAULT_START_TIMEOUT_MS = 10_000;

/**
 * Names the compiled entry (dist/loadgen/main.js) for a process that runs this file from
 * the TS sources: the kernel tests' global setup compiles dist/ from the same tree and
 * sets it, so that each load generator starts as the JS that ships, not under tsx
 * (measured 1.1 s and 0.5 s of CPU per process against 0.2 s and 0.1 s here, paid before
 * every rate test's phases by each of its servers and senders).
 */
export const LOADGEN_ENTRY_ENV = 'SLUICE_LOADGEN_ENTRY';

/** How to run the entry: compiled JS beside this file (dist/), the compiled entry named by LOADGEN_ENTRY_ENV, or the TS source under tsx. */
export function resolveLoadgenEntry(dir: string = __dirname, compiledElsewhere: string | undefined = process.env[LOADGEN_ENTRY_ENV]): readonly string[] {
  const compiled = path.join(dir, 'main.js');
  if (existsSync(compiled)) return [compiled];
  if (compiledElsewhere !== undefined && existsSync(compiledElsewhere)) return [compiledElsewhere];
  const source = path.join(dir, 'main.ts');
  // An absolute URL: the child runs with another cwd and module resolution must not depend on it.
  const tsxLoader = pathToFileURL(createRequire(path.join(dir, 'driver.ts')).resolve('tsx')).href;
  return ['--import', tsxLoader, source];
}

/** The namespace file nsenter should enter. */
export function netnsPath(netns: string): string {
  if (netns.startsWith('/')) return netns;
  if (!/^[A-Za-z0-9_.-]+$/.test(netns)) throw new RangeError(`network namespace name "${netns}" has characters other than [A-Za-z0-9_.-]`);
  return path.join('/run/netns', netns);
}

/** argv for spawn: [command, ...args]. */
export function loadgenCommandLine(netns: string | undefined, loadgenArgs: readonly string[]): readonly [string, ...string[]] {
  const nodeArgs = [process.execPath, ...resolveLoadgenEntry(), ...loadgenArgs];
  if (netns === undefined) return nodeArgs as [string, ...string[]];
  return ['nsenter', `--net=${netnsPath(netns)}`, ...nodeArgs];
}

// --- the registry of live children, killed on every way out of this process ---

const liveChildren = new Set<ChildProcessWithoutNullStreams>();
let exitHandlersInstalled = false;

/** Kills every loadgen child still running (SIGKILL; synchronous, safe in an 'exit' handler). */
export function killAllLoadgens(): void {
  for (const child of liveChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  liveChildren.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  killAllLoadgens();
  // Only our listener: installing it removed Node's default exit, so restore and re-raise.
  // Others listening (e.g. the demo's cleanup) decide themselves when to exit.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, fatalSignalHandlers[signal as 'SIGINT' | 'SIGTERM']);
    process.kill(process.pid, signal);
  }
}

const fatalSignalHandlers = {
  SIGINT: (): void => onFatalSignal('SIGINT'),
  SIGTERM: (): void => onFatalSignal('SIGTERM'),
};

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', killAllLoadgens);
  process.on('SIGINT', fatalSignalHandlers.SIGINT);
  process.on('SIGTERM', fatalSignalHandlers.SIGTERM);
}

// --- one child ---

function spawnLoadgen(netns: string | undefined, role: LoadgenMode, args: readonly string[]): LoadgenChild {
  const [command, ...rest] = loadgenCommandLine(netns, [role, ...args]);
  installExitHandlers();
  const child = spawn(command, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  liveChildren.add(child);
  const events: LoadgenEvent[] = [];
  const samplesById = new Map<string, ByteSampleLine[]>();
  const rtts: RttSample[] = [];
  const listeners: ((event: LoadgenEvent) => void)[] = [];
  let stderrText = '';

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrText = (stderrText + text).slice(-8192);
  });
  child.stdin.on('error', () => undefined); // EPIPE after the child exited

  readline.createInterface({ input: child.stdout, terminal: false }).on('line', (line) => {
    const event = parseEvent(line);
    if (event === undefined) return;
    events.push(event);
    if (event.type === 'sample') {
      const list = samplesById.get(event.id) ?? [];
      list.push({ t: event.t, bytes: event.bytes });
      samplesById.set(event.id, list);
    }
    if (event.type === 'rtt') rtts.push({ t: event.t, ms: event.ms });
    for (const listener of listeners) listener(event);
  });

  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      stderrText += `\nspawn ${command}: ${error.message}`;
      liveChildren.delete(child);
      resolve(null);
    });
    child.once('exit', (code) => {
      liveChildren.delete(child);
      resolve(code);
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const describe = (): string => `loadgen ${role} (pid ${child.pid ?? '?'}${netns ? `, netns ${netns}` : ''})`;

  const waitFor = <K extends LoadgenEvent['type']>(
    type: K,
    match: (event: EventOf<K>) => boolean = () => true,
    timeoutMs: number = DEFAULT_START_TIMEOUT_MS,
  ): Promise<EventOf<K>> => {
    const matches = (event: LoadgenEvent): event is EventOf<K> => event.type === type && match(event as EventOf<K>);
    const seen = events.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<EventOf<K>>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => fail(`no "${type}" event within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const errors = events.filter((e): e is EventOf<'error'> => e.type === 'error').map((e) => e.message);
        reject(new Error(`${describe()}: ${why}${errors.length ? `; errors: ${errors.join('; ')}` : ''}${stderrText ? `; stderr: ${stderrText.trim()}` : ''}`));
      };
      listeners.push((event) => {
        if (done || !matches(event)) return;
        done = true;
        clearTimeout(timer);
        resolve(event);
      });
      void exited.then((code) => fail(`exited (code ${code}) before "${type}"`));
    });
  };

  const send = (commandLine: LoadgenCommand): void => {
    if (!hasExited && child.stdin.writable) child.stdin.write(`${JSON.stringify(commandLine)}\n`);
  };

  const stop = async (graceMs = 2000): Promise<number | null> => {
    if (hasExited) return exited;
    send({ cmd: 'exit' });
    const escalate = (signal: NodeJS.Signals, afterMs: number): NodeJS.Timeout =>
      setTimeout(() => {
        if (!hasExited) child.kill(signal);
      }, afterMs);
    const term = escalate('SIGTERM', graceMs);
    const kill = escalate('SIGKILL', graceMs * 2);
    const code = await exited;
    clearTimeout(term);
    clearTimeout(kill);
    return code;
  };

  return {
    pid: child.pid ?? -1,
    role,
    events,
    samples: (id) => samplesById.get(id) ?? [],
    latestBytes: (id) => samplesById.get(id)?.at(-1)?.bytes ?? 0,
    rtts: () => rtts,
    onEvent: (listener) => {
      listeners.push(listener);
    },
    send,
    waitFor,
    sampleNow: async (timeoutMs = 2000) => {
      const before = events.length;
      send({ cmd: 'sample' });
      await waitFor('ack', (event) => event.cmd === 'sample' && events.indexOf(event) >= before, timeoutMs);
    },
    pause: async (timeoutMs = 2000) => {
      const before = events.length;
      send({ cmd: 'stop' });
      return (await waitFor('stopped', (event) => events.indexOf(event) >= before, timeoutMs)).bytes;
    },
    stop,
    exited,
    stderr: () => stderrText,
  };
}

function endpointText(endpoint: Endpoint | string): string {
  return formatEndpoint(typeof endpoint === 'string' ? parseEndpoint(endpoint) : endpoint);
}

/** Starts `serve` and resolves once it listens. */
export async function startLoadgenServer(options: LoadgenServerOptions): Promise<LoadgenChild> {
  const args = ['--listen', endpointText(options.listen)];
  if (options.intervalMs !== undefined) args.push('--interval', String(options.intervalMs));
  const child = spawnLoadgen(options.netns, 'serve', args);
  try {
    await child.waitFor('ready');
  } catch (error) {
    await child.stop(500);
    throw error;
  }
  return child;
}

/** Starts `send` and resolves once it is connected (and, unless paused, sending). */
export async function startLoadgenSender(options: LoadgenSenderOptions): Promise<LoadgenChild> {
  const args = ['--to', endpointText(options.to), '--id', options.id];
  if (options.bind !== undefined) args.push('--bind', options.bind);
  if (options.durationS !== undefined) args.push('--duration', String(options.durationS));
  if (options.paused === true) args.push('--paused');
  if (options.intervalMs !== undefined) args.push('--interval', String(options.intervalMs));
  if (options.writeBytes !== undefined) args.push('--write-bytes', String(options.writeBytes));
  if (options.flows !== undefined) args.push('--flows', String(options.flows));
  const child = spawnLoadgen(options.netns, 'send', args);
  try {
    await child.waitFor('connected');
  } catch (error) {
    await child.stop(500);
    throw error;
  }
  return child;
}

/** Starts `echo` (the far end of a ping) and resolves once it listens. */
export async function startLoadgenEcho(options: { readonly netns?: string; readonly listen: Endpoint | string }): Promise<LoadgenChild> {
  return started(spawnLoadgen(options.netns, 'echo', ['--listen', endpointText(options.listen)]), 'ready');
}

/** Starts `ping` towards an echo and resolves once connected; rtts() collects the round trips. */
export async function startLoadgenPing(options: { readonly netns?: string; readonly to: Endpoint | string; readonly id: string; readonly bind?: string; readonly intervalMs: number; readonly paused?: boolean }): Promise<LoadgenChild> {
  const args = ['--to', endpointText(options.to), '--id', options.id, '--interval', String(options.intervalMs)];
  if (options.bind !== undefined) args.push('--bind', options.bind);
  if (options.paused === true) args.push('--paused');
  return started(spawnLoadgen(options.netns, 'ping', args), 'connected');
}

async function started(child: LoadgenChild, event: 'ready' | 'connected'): Promise<LoadgenChild> {
  try {
    await child.waitFor(event);
  } catch (error) {
    await child.stop(500);
    throw error;
  }
  return child;
}
