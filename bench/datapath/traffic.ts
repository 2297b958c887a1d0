// One measurement of bench/datapath: iperf3 with two flows per busy container, one way,
// and what it cost. Throughput and retransmits from iperf3's JSON (the first seconds
// omitted with -O); CPU from /proc/stat over the same window; drops of every qdisc and
// device in the host namespace; bytes per packet on each device the traffic crosses,
// which shows where GSO packets are cut into segments, and by how many.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { spawnIn } from '../peers/scenarios';
import { BRIDGE, inNetns, PEER, run, UPLINK } from '../peers/systems';
import { HOST_NETNS, PEER_NETNS, type Container } from './node';

export const FLOWS_PER_CONTAINER = 2;
const BASE_PORT = 5201;

export interface Timing {
  /** Seconds measured. */
  readonly seconds: number;
  /** Seconds at the start that are not (TCP and the shaper settling). */
  readonly omitSeconds: number;
}

export interface Measurement {
  /** Goodput per busy container, as the receiver counted it. */
  readonly goodput: ReadonlyMap<string, BitsPerSec>;
  readonly total: BitsPerSec;
  /** Busy cores (user + system + softirq, steal excluded) over the window, out of `cores`. */
  readonly busyCores: number;
  readonly cores: number;
  readonly retransmits: number;
  readonly qdiscDrops: number;
  readonly deviceDrops: number;
  /** Bytes per packet over the window on each device the traffic crosses (name → bytes). */
  readonly bytesPerPacket: ReadonlyMap<string, number>;
}

/** Per-second figures a system is compared by. */
export const cpuPerGbit = (m: Measurement): number => m.busyCores / (m.total / 1e9);

// ------------------------------------------------------------------ counters

interface CpuTimes {
  readonly busy: number;
  readonly all: number;
}

/** The machine's `cpu` line: busy = user + nice + system + irq + softirq; all adds idle and iowait (steal is another guest's). */
function cpuTimes(): CpuTimes {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq] = fields as [number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq;
  return { busy, all: busy + idle + iowait };
}

interface LinkStats {
  readonly ifname: string;
  readonly stats64: { readonly rx: Counts; readonly tx: Counts };
}
interface Counts {
  readonly bytes: number;
  readonly packets: number;
  readonly dropped: number;
}

async function linkStats(netns: string): Promise<LinkStats[]> {
  return JSON.parse(await run('ip', ['-n', netns, '-s', '-j', 'link', 'show'])) as LinkStats[];
}

async function qdiscDrops(netns: string): Promise<number> {
  const qdiscs = JSON.parse(await run('tc', ['-n', netns, '-s', '-j', 'qdisc', 'show'])) as { drops?: number }[];
  return qdiscs.reduce((sum, q) => sum + (q.drops ?? 0), 0);
}

interface Snapshot {
  readonly cpu: CpuTimes;
  readonly links: readonly LinkStats[];
  readonly qdiscDrops: number;
}

const snapshot = async (): Promise<Snapshot> => {
  const [links, drops] = await Promise.all([linkStats(HOST_NETNS), qdiscDrops(HOST_NETNS)]);
  return { cpu: cpuTimes(), links, qdiscDrops: drops };
};

/**
 * The devices a packet crosses, in order, with the side that counts it: download enters
 * on the uplink (rx), leaves the bridge (tx) and the container veths (tx); upload the
 * reverse, through an IFB (the bandwidth plugin's, Sluice's), which counts what it redirects as tx.
 */
function bytesPerPacket(dir: Direction, busy: readonly Container[], before: Snapshot, after: Snapshot): Map<string, number> {
  const delta = (ifname: string, side: 'rx' | 'tx'): Counts | undefined => {
    const a = after.links.find((l) => l.ifname === ifname);
    const b = before.links.find((l) => l.ifname === ifname);
    if (!a || !b) return undefined;
    return { bytes: a.stats64[side].bytes - b.stats64[side].bytes, packets: a.stats64[side].packets - b.stats64[side].packets, dropped: 0 };
  };
  const out = new Map<string, number>();
  const put = (label: string, counts: readonly (Counts | undefined)[]): void => {
    const bytes = counts.reduce((s, c) => s + (c?.bytes ?? 0), 0);
    const packets = counts.reduce((s, c) => s + (c?.packets ?? 0), 0);
    if (packets > 0) out.set(label, bytes / packets);
  };
  const down = dir === 'download';
  put('uplink', [delta(UPLINK, down ? 'rx' : 'tx')]);
  put('bridge', [delta(BRIDGE, down ? 'tx' : 'rx')]);
  put('veths', busy.map((c) => delta(c.hostVeth, down ? 'tx' : 'rx')));
  // Upload only: downloads send only their ACKs through an IFB.
  const ifbs = down ? [] : after.links.filter((l) => l.ifname.startsWith('bwp') || l.ifname.startsWith('sl-ifb'));
  put('ifb', ifbs.map((l) => delta(l.ifname, 'tx')));
  return out;
}

const droppedBetween = (before: Snapshot, after: Snapshot): number =>
  after.links.reduce((sum, a) => {
    const b = before.links.find((l) => l.ifname === a.ifname);
    if (!b) return sum;
    return sum + a.stats64.rx.dropped - b.stats64.rx.dropped + a.stats64.tx.dropped - b.stats64.tx.dropped;
  }, 0);

// ------------------------------------------------------------------ iperf3

interface IperfResult {
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
}

/** Waits until every server listens (iperf3 has no readiness signal). */
async function listening(checks: readonly { netns: string; port: number }[]): Promise<void> {
  const deadline = performance.now() + 5000;
  for (const c of checks) {
    for (;;) {
      const out = await inNetns(c.netns, 'ss', ['-Hltn', `sport = :${c.port}`]);
      if (out.trim()) break;
      if (performance.now() > deadline) throw new Error(`iperf3 did not listen on :${c.port} in ${c.netns}`);
      await sleep(20);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `busy` send (upload) or receive (download) at once; the window starts after `omitSeconds`. */
export async function measure(dir: Direction, busy: readonly Container[], timing: Timing): Promise<Measurement> {
  const down = dir === 'download';
  const ports = busy.map((_, i) => BASE_PORT + i);
  const servers = busy.map((c, i) => (down ? spawnIn(c.netns, 'iperf3', ['-s', '-1', '-B', c.address, '-p', String(ports[i])]) : spawnIn(PEER_NETNS, 'iperf3', ['-s', '-1', '-B', PEER.peer, '-p', String(ports[i])])));
  try {
    await listening(busy.map((c, i) => ({ netns: down ? c.netns : PEER_NETNS, port: ports[i]! })));
    const common = ['-J', '-P', String(FLOWS_PER_CONTAINER), '-t', String(timing.seconds), '-O', String(timing.omitSeconds)];
    const clients = busy.map((c, i) =>
      down ? inNetns(PEER_NETNS, 'iperf3', ['-c', c.address, '-p', String(ports[i]), ...common]) : inNetns(c.netns, 'iperf3', ['-c', PEER.peer, '-B', c.address, '-p', String(ports[i]), ...common]),
    );
    await sleep(timing.omitSeconds * 1000);
    const before = await snapshot();
    const results = (await Promise.all(clients)).map((out) => JSON.parse(out) as IperfResult);
    const after = await snapshot();
    const goodput = new Map(busy.map((c, i) => [c.name, bitsPerSec(results[i]!.end?.sum_received?.bits_per_second ?? 0)] as const));
    const cores = cpus().length;
    return {
      goodput,
      total: bitsPerSec([...goodput.values()].reduce((s, r) => s + r, 0)),
      busyCores: ((after.cpu.busy - before.cpu.busy) / Math.max(1, after.cpu.all - before.cpu.all)) * cores,
      cores,
      retransmits: results.reduce((s, r) => s + (r.end?.sum_sent?.retransmits ?? 0), 0),
      qdiscDrops: after.qdiscDrops - before.qdiscDrops,
      deviceDrops: droppedBetween(before, after),
      bytesPerPacket: bytesPerPacket(dir, busy, before, after),
    };
  } finally {
    for (const s of servers) s.kill('SIGKILL');
  }
}
