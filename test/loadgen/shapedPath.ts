// Test and bench scaffolding (not product code): two sl-lg-* namespaces joined by a veth,
// optionally shaped by HTB on the sender's egress, built with `ip`/`tc` via execFile
// argument arrays, and iperf3 for the cross-check.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, [...args], { maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || (error as Error).message}`);
  }
}

export const DEV = 'lg0';
export const RECEIVER_ADDRESS = '198.18.40.2';
/** Sender-side addresses; one per sender so a u32 filter can tell them apart. */
export const SENDER_ADDRESSES = ['198.18.40.1', '198.18.40.3', '198.18.40.4', '198.18.40.5'] as const;

export interface Path {
  readonly sender: string;
  readonly receiver: string;
  destroy(): Promise<void>;
}

/** Names unique per process so a bench and a test never share namespaces. */
export function pathNames(tag: string): { sender: string; receiver: string } {
  const unique = `${tag}${process.pid}`;
  return { sender: `sl-lg-${unique}-s`, receiver: `sl-lg-${unique}-r` };
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'delete', name]).catch(() => undefined); // already gone is fine
}

export async function createPath(tag: string): Promise<Path> {
  const { sender, receiver } = pathNames(tag);
  const destroy = async (): Promise<void> => {
    await deleteNetns(sender);
    await deleteNetns(receiver);
  };
  try {
    await run('ip', ['netns', 'add', sender]);
    await run('ip', ['netns', 'add', receiver]);
    await run('ip', ['-n', sender, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', DEV, 'netns', receiver]);
    for (const address of SENDER_ADDRESSES) await run('ip', ['-n', sender, 'addr', 'add', `${address}/24`, 'dev', DEV]);
    await run('ip', ['-n', receiver, 'addr', 'add', `${RECEIVER_ADDRESS}/24`, 'dev', DEV]);
    for (const ns of [sender, receiver]) {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', DEV, 'up']);
    }
    return { sender, receiver, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

export interface HtbLeaf {
  readonly minor: number;
  readonly rateMbit: number;
  readonly ceilMbit: number;
  readonly prio: number;
  /** Matched by source address with u32; omitted: the default class. */
  readonly source?: string;
}

/** HTB on the sender's egress: 1: → 1:1 (the link) → the leaves. Quantum ∝ guarantee, as Sluice sets it. */
export async function shapeHtb(path: Path, linkMbit: number, leaves: readonly HtbLeaf[]): Promise<void> {
  const tc = (args: readonly string[]): Promise<string> => run('ip', ['netns', 'exec', path.sender, 'tc', ...args]);
  const defaultLeaf = leaves.find((leaf) => leaf.source === undefined) ?? leaves[0];
  await tc(['qdisc', 'add', 'dev', DEV, 'root', 'handle', '1:', 'htb', 'default', (defaultLeaf?.minor ?? 1).toString(16)]);
  await tc(['class', 'add', 'dev', DEV, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${linkMbit}mbit`, 'ceil', `${linkMbit}mbit`]);
  for (const leaf of leaves) {
    const quantum = Math.max(1514, Math.round((leaf.rateMbit * 1e6) / 8 / 1000)); // 1 ms of the guarantee
    await tc(['class', 'add', 'dev', DEV, 'parent', '1:1', 'classid', `1:${leaf.minor.toString(16)}`, 'htb',
      'rate', `${leaf.rateMbit}mbit`, 'ceil', `${leaf.ceilMbit}mbit`, 'prio', String(leaf.prio), 'quantum', String(quantum)]);
    if (leaf.source !== undefined) {
      await tc(['filter', 'add', 'dev', DEV, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
        'match', 'ip', 'src', `${leaf.source}/32`, 'flowid', `1:${leaf.minor.toString(16)}`]);
    }
  }
}

export interface ClassStats {
  readonly handle: string;
  readonly bytes: number;
  readonly packets: number;
  readonly drops: number;
  readonly overlimits: number;
}

/**
 * Parses `tc -s class show` text: iproute2 6.1 (this machine) accepts `-j` for class show
 * but still prints text, so the JSON the brief asks for is not available here.
 */
export function parseClassStats(text: string): Map<string, ClassStats> {
  const stats = new Map<string, ClassStats>();
  const pattern = /^class \S+ (\S+) [^\n]*\n\s*Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/gm;
  for (const match of text.matchAll(pattern)) {
    const [, handle, bytes, packets, drops, overlimits] = match as unknown as [string, string, string, string, string, string];
    stats.set(handle, { handle, bytes: Number(bytes), packets: Number(packets), drops: Number(drops), overlimits: Number(overlimits) });
  }
  return stats;
}

/** Class counters on lg0 in the sender's namespace (tries `tc -s -j`, falls back to text). */
export async function classStats(path: Path): Promise<Map<string, ClassStats>> {
  const text = await run('ip', ['netns', 'exec', path.sender, 'tc', '-s', '-j', 'class', 'show', 'dev', DEV]);
  if (!text.trimStart().startsWith('[')) return parseClassStats(text);
  const classes = JSON.parse(text) as { handle?: string; stats?: Partial<ClassStats> }[];
  return new Map(
    classes.map((c) => {
      const handle = c.handle ?? '?';
      const s = c.stats ?? {};
      return [handle, { handle, bytes: s.bytes ?? 0, packets: s.packets ?? 0, drops: s.drops ?? 0, overlimits: s.overlimits ?? 0 }];
    }),
  );
}

interface Iperf3Json {
  end?: { sum_received?: { bits_per_second?: number; bytes?: number } };
  error?: string;
}

/**
 * iperf3 from the sender to the receiver namespace for `seconds`, omitting the first
 * `omitS` (the same warm-up the loadgen measurement skips). Returns the received goodput.
 */
export async function iperf3Goodput(path: Path, seconds: number, omitS: number, port = 5202): Promise<number> {
  const server = spawn('nsenter', [`--net=/run/netns/${path.receiver}`, 'iperf3', '-s', '-1', '--forceflush', '-B', RECEIVER_ADDRESS, '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('iperf3 -s did not start listening within 5 s')), 5000);
      server.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`iperf3 -s exited with ${code}`)));
    });
    const text = await run('nsenter', [`--net=/run/netns/${path.sender}`, 'iperf3', '-c', RECEIVER_ADDRESS, '-B', SENDER_ADDRESSES[0],
      '-p', String(port), '-t', String(seconds + omitS), '-O', String(omitS), '-J']);
    const result = JSON.parse(text) as Iperf3Json;
    const bps = result.end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new Error(`iperf3 reported no sum_received: ${result.error ?? text.slice(0, 200)}`);
    return bps;
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}
