// Traffic for the demo and the integration tests: one loadgen sender per container and
// direction, connected up front and paused, switched on and off per phase, so phases
// change demand without reconnecting; receivers count what arrives.

import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type ByteSampleLine, type LoadgenChild } from '../loadgen/driver';
import { monotonicMs } from '../loadgen/protocol';
import { steadyRate } from '../measure/rate';
import type { Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';

export interface TrafficEndpoint {
  readonly name: string;
  /** The container's namespace and address. */
  readonly netns: string;
  readonly address: string;
  /** Parallel TCP connections per direction (default 1). */
  readonly flows?: number;
}

export interface TrafficPlan {
  readonly peerNetns: string;
  readonly peerAddress: string;
  readonly containers: readonly TrafficEndpoint[];
  readonly directions: readonly Direction[];
  /** The first port (default 5301): two rigs on one site (two peers) need apart ranges. */
  readonly basePort?: number;
}

const DEFAULT_BASE_PORT = 5301;

/** Live loadgen processes for one run; stop() always ends them all. */
export class TrafficRig {
  private readonly senders = new Map<string, LoadgenChild>();
  private readonly receivers = new Map<string, LoadgenChild>();
  private readonly children: LoadgenChild[] = [];
  private readonly activeNow = new Set<string>();

  private constructor(private readonly plan: TrafficPlan) {}

  static async start(plan: TrafficPlan): Promise<TrafficRig> {
    const rig = new TrafficRig(plan);
    try {
      await rig.connectAll();
    } catch (e) {
      await rig.stop();
      throw e;
    }
    return rig;
  }

  private key(name: string, dir: Direction): string {
    return `${dir}.${name}`;
  }

  /**
   * Download: the peer sends to a receiver in each container; upload: each container
   * sends to the peer. Receivers first, then senders, each group started at once: one
   * after another, process start-up took seconds at six containers.
   */
  private async connectAll(): Promise<void> {
    const { plan } = this;
    const basePort = plan.basePort ?? DEFAULT_BASE_PORT;
    const download = plan.directions.includes('download');
    const upload = plan.directions.includes('upload');
    const servers: Promise<void>[] = [];
    if (upload) {
      servers.push(this.started(startLoadgenServer({ netns: plan.peerNetns, listen: { host: plan.peerAddress, port: basePort } }), (server) => {
        for (const c of plan.containers) this.receivers.set(this.key(c.name, 'upload'), server);
      }));
    }
    if (download) {
      plan.containers.forEach((c, i) => {
        servers.push(this.started(startLoadgenServer({ netns: c.netns, listen: { host: c.address, port: basePort + 1 + i } }), (server) => this.receivers.set(this.key(c.name, 'download'), server)));
      });
    }
    await settleAll(servers);
    const senders: Promise<void>[] = [];
    plan.containers.forEach((c, i) => {
      const flows = c.flows ? { flows: c.flows } : {};
      if (download) {
        const id = this.key(c.name, 'download');
        senders.push(this.started(startLoadgenSender({ netns: plan.peerNetns, to: { host: c.address, port: basePort + 1 + i }, id, paused: true, ...flows }), (sender) => this.senders.set(id, sender)));
      }
      if (upload) {
        const id = this.key(c.name, 'upload');
        senders.push(this.started(startLoadgenSender({ netns: c.netns, to: { host: plan.peerAddress, port: basePort }, bind: c.address, id, paused: true, ...flows }), (sender) => this.senders.set(id, sender)));
      }
    });
    await settleAll(senders);
  }

  /** Registers the child for stop() as soon as it is up, then files it. */
  private async started(child: Promise<LoadgenChild>, file: (child: LoadgenChild) => void): Promise<void> {
    const c = await child;
    this.children.push(c);
    file(c);
  }

  /** Makes exactly `active` send in `dir`; everyone else in that direction pauses. Returns the switch time. */
  setActive(dir: Direction, active: readonly string[]): number {
    for (const c of this.plan.containers) {
      const key = this.key(c.name, dir);
      const sender = this.senders.get(key);
      if (!sender) continue;
      const want = active.includes(c.name);
      if (want && !this.activeNow.has(key)) sender.send({ cmd: 'start' });
      if (!want && this.activeNow.has(key)) sender.send({ cmd: 'stop' });
      if (want) this.activeNow.add(key);
      else this.activeNow.delete(key);
    }
    return monotonicMs();
  }

  /** Receiver goodput per container over [fromMs + warmupMs, toMs]. */
  goodput(dir: Direction, fromMs: number, toMs: number, warmupMs: number): Map<string, BitsPerSec> {
    const out = new Map<string, BitsPerSec>();
    for (const c of this.plan.containers) {
      const key = this.key(c.name, dir);
      const receiver = this.receivers.get(key);
      if (!receiver) continue;
      try {
        out.set(c.name, steadyRate(receiver.samples(key), { fromMs, toMs, warmupMs }));
      } catch {
        out.set(c.name, bitsPerSec(0));
      }
    }
    return out;
  }

  /** The receiver's byte samples of one container (its own clock, so a busy parent process does not delay them). */
  samples(dir: Direction, name: string): readonly ByteSampleLine[] {
    const key = this.key(name, dir);
    return this.receivers.get(key)?.samples(key) ?? [];
  }

  /** Bytes received so far per container (for live rates). */
  receivedBytes(dir: Direction): Map<string, number> {
    return new Map(this.plan.containers.map((c) => [c.name, this.receivers.get(this.key(c.name, dir))?.latestBytes(this.key(c.name, dir)) ?? 0]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop(500).catch(() => null)));
    killAllLoadgens();
  }
}

/** Waits for every start, then throws the first failure (so stop() sees every child that did start). */
async function settleAll(starts: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
