// The latency of a light priority-0 flow: round trips from the peer to a container's
// echo, first with nothing else sending, then while the other containers saturate the
// link in both directions. Both measured in one run, so the difference is what the
// shaper's queues add.
import { setPriority } from 'node:os';
import { startLoadgenEcho, startLoadgenPing, type LoadgenChild } from '../loadgen/driver';
import { monotonicMs } from '../loadgen/protocol';
import { latencyReport, type LatencyReport } from '../measure/latency';
import type { CompiledPolicy } from '../compile';
import type { Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import type { TrafficSite } from './run';
import { TrafficRig } from './traffic';

const ECHO_PORT = 5450;
/** One round trip every 10 ms: light next to the link, enough samples for a p99. */
const PING_INTERVAL_MS = 10;

export interface LatencyOptions {
  readonly seconds: number;
  /** Skipped after the load starts, while TCP ramps up. */
  readonly warmupSeconds: number;
}

/** The priority-0 container (in both directions) that the light flow goes to; the first such. */
export function probeContainer(compiled: CompiledPolicy): string | undefined {
  return compiled.containers.find((c) => c.classes.download?.priority === 0 && c.classes.upload?.priority === 0)?.name;
}

export async function measureLatency(site: TrafficSite, probe: string, options: LatencyOptions): Promise<LatencyReport> {
  const target = site.containers.find((c) => c.name === probe);
  if (!target) throw new RangeError(`latency probe: no container "${probe}" in the traffic site`);
  const others = site.containers.filter((c) => c.name !== probe);
  const children: LoadgenChild[] = [];
  const rig = await TrafficRig.start({ peerNetns: site.peerNetns, peerAddress: site.peerAddress, containers: others, directions: ['download', 'upload'] });
  try {
    children.push(await startLoadgenEcho({ netns: target.netns, listen: { host: target.address, port: ECHO_PORT } }));
    const ping = await startLoadgenPing({ netns: site.peerNetns, to: { host: target.address, port: ECHO_PORT }, id: `rtt.${probe}`, intervalMs: PING_INTERVAL_MS });
    children.push(ping);
    for (const c of children) aheadOfTheLoad(c.pid);
    const idle = (await collect(ping, options.seconds * 1000)).rtts;
    const busy = loadSplit(others.map((c) => c.name));
    rig.setActive('download', busy.download);
    rig.setActive('upload', busy.upload);
    await sleep(options.warmupSeconds * 1000);
    const loaded = await collect(ping, options.seconds * 1000);
    const goodput = (dir: Direction): BitsPerSec => bitsPerSec([...rig.goodput(dir, loaded.from, loaded.to, 0).values()].reduce((sum, rate) => sum + rate, 0));
    return latencyReport(probe, busy, idle, loaded.rtts, { download: goodput('download'), upload: goodput('upload') });
  } finally {
    await Promise.all(children.map((c) => c.stop(500).catch(() => null)));
    await rig.stop();
  }
}

/**
 * Who saturates which direction: the first half of `names` download, the rest upload,
 * so that no container sends bulk data one way while its own flows' ACKs go the other.
 * In one FIFO leaf those ACKs wait behind up to ~1 MB of its upload data, and download
 * fell to 84–94 Mbit/s of 100 (bench/bidirectional.ts; docs/decisions.md, #27). A lone
 * other container loads both.
 */
export function loadSplit(names: readonly string[]): Readonly<Record<Direction, readonly string[]>> {
  if (names.length < 2) return { download: names, upload: names };
  const half = Math.ceil(names.length / 2);
  return { download: names.slice(0, half), upload: names.slice(half) };
}

/** The round trips that end within the next `ms`, and the window. */
async function collect(ping: LoadgenChild, ms: number): Promise<{ rtts: number[]; from: number; to: number }> {
  const from = monotonicMs();
  await sleep(ms);
  const to = monotonicMs();
  return { rtts: ping.rtts().filter((r) => r.t >= from && r.t <= to).map((r) => r.ms), from, to };
}

/**
 * The senders saturating the link are processes on the same (2-core) machine: at equal
 * CPU priority the probe's p99 measured when the scheduler ran it, not the shaper's
 * queues (+6.5 ms once, with other builds running). Ahead of them it measures the path.
 * Needs root; without it the probe runs as it is.
 */
function aheadOfTheLoad(pid: number): void {
  try {
    setPriority(pid, -10);
  } catch {
    // Not permitted: measure at equal priority.
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
