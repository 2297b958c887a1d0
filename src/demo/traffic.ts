// Traffic for the demo and the integration tests: one loadgen sender per container and
// direction, connected up front and paused, switched on and off per phase, so phases
// change demand without reconnecting; receivers count what arrives.

import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type LoadgenChild } from '../loadgen/driver';
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
}

const BASE_PORT = 5301;

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

  /** Download: the peer sends to a receiver in each container; upload: each container sends to the peer. */
  private async connectAll(): Promise<void> {
    const { plan } = this;
    if (plan.directions.includes('upload')) {
      const peerServer = await startLoadgenServer({ netns: plan.peerNetns, listen: { host: plan.peerAddress, port: BASE_PORT } });
      this.children.push(peerServer);
      for (const c of plan.containers) this.receivers.set(this.key(c.name, 'upload'), peerServer);
    }
    for (const [i, c] of plan.containers.entries()) {
      if (plan.directions.includes('download')) {
        const port = BASE_PORT + 1 + i;
        const server = await startLoadgenServer({ netns: c.netns, listen: { host: c.address, port } });
        this.children.push(server);
        this.receivers.set(this.key(c.name, 'download'), server);
        const sender = await startLoadgenSender({ netns: plan.peerNetns, to: { host: c.address, port }, id: this.key(c.name, 'download'), paused: true, ...(c.flows ? { flows: c.flows } : {}) });
        this.children.push(sender);
        this.senders.set(this.key(c.name, 'download'), sender);
      }
      if (plan.directions.includes('upload')) {
        const sender = await startLoadgenSender({ netns: c.netns, to: { host: plan.peerAddress, port: BASE_PORT }, bind: c.address, id: this.key(c.name, 'upload'), paused: true, ...(c.flows ? { flows: c.flows } : {}) });
        this.children.push(sender);
        this.senders.set(this.key(c.name, 'upload'), sender);
      }
    }
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

  /** Bytes received so far per container (for live rates). */
  receivedBytes(dir: Direction): Map<string, number> {
    return new Map(this.plan.containers.map((c) => [c.name, this.receivers.get(this.key(c.name, dir))?.latestBytes(this.key(c.name, dir)) ?? 0]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop(500).catch(() => null)));
    killAllLoadgens();
  }
}
