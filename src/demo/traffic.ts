// Traffic for the demo and the integration tests: one loadgen sender per container and
// direction, connected up front and paused, switched on and off per phase, so phases
// change demand without reconnecting; receivers count what arrives.

import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type ByteSampleLine, type LoadgenChild } from '../loadgen/driver';
import { SluiceError } from '../errors';
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
/**
 * How long a paused sender's bytes may take to arrive. Its socket buffers hold up to a few
 * megabytes, which drain at its class's rate: 4 MB at a 2 Mbit/s ceiling is 16 s.
 */
const DRAIN_TIMEOUT_MS = 30_000;
const DRAIN_POLL_MS = 50;

/** A paused sender whose bytes have not all arrived in time: the next phase would count them. */
export class TrafficDrainError extends SluiceError {
  readonly code = 'ETIMEDOUT';
  constructor(readonly sender: string, readonly owed: number, readonly received: number, readonly timeoutMs: number) {
    super(
      `traffic ${sender}: ${owed - received} of the ${owed} bytes it wrote before its pause have not arrived ${timeoutMs} ms later`,
      "its shaped path is stalled or far slower than its class: look at the class's drops and backlog (tc -s class show), then run again",
    );
  }
}

/** Live loadgen processes for one run; stop() always ends them all. */
export class TrafficRig {
  private readonly senders = new Map<string, LoadgenChild>();
  private readonly receivers = new Map<string, LoadgenChild>();
  private readonly children: LoadgenChild[] = [];
  private readonly activeNow = new Set<string>();
  /** Paused senders whose bytes may still be on their way: the byte count each has written. */
  private readonly owed = new Map<string, Promise<number>>();

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

  /**
   * Makes exactly `active` send in `dir`; everyone else in that direction pauses at once,
   * their bytes still arriving for a while (see switchTo). Returns the switch time.
   */
  setActive(dir: Direction, active: readonly string[]): number {
    for (const c of this.plan.containers) {
      const key = this.key(c.name, dir);
      const sender = this.senders.get(key);
      if (!sender) continue;
      const want = active.includes(c.name);
      if (want && !this.activeNow.has(key)) {
        this.owed.delete(key);
        sender.send({ cmd: 'start' });
      }
      if (!want && this.activeNow.has(key)) this.owe(key, sender.pause());
      if (want) this.activeNow.add(key);
      else this.activeNow.delete(key);
    }
    return monotonicMs();
  }

  /**
   * Like setActive, but those who join start only once every byte that the ones leaving
   * wrote has arrived. A paused sender stops writing, yet its socket buffers hold megabytes
   * that drain at its class's rate for seconds: counted in the next phase they are a
   * sender that should be idle, and the upload ACKs of a container whose download class is
   * still full of them wait behind it (a 600 ms round trip held one at 70% of its guarantee).
   * Returns the time the joiners started.
   */
  async switchTo(dir: Direction, active: readonly string[], timeoutMs = DRAIN_TIMEOUT_MS): Promise<number> {
    const staying = active.filter((name) => this.activeNow.has(this.key(name, dir)));
    this.setActive(dir, staying);
    await this.drained(timeoutMs);
    return this.setActive(dir, active);
  }

  /** Until every paused sender's bytes have arrived, in any direction; throws TrafficDrainError after timeoutMs. */
  async drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    const deadline = monotonicMs() + timeoutMs;
    for (const [key, written] of [...this.owed]) {
      const owed = await written;
      const receiver = this.receivers.get(key);
      while (receiver && receiver.latestBytes(key) < owed) {
        if (monotonicMs() > deadline) throw new TrafficDrainError(key, owed, receiver.latestBytes(key), timeoutMs);
        await sleep(DRAIN_POLL_MS);
      }
      if (this.owed.get(key) === written) this.owed.delete(key);
    }
  }

  /** Files a pause's byte count; a child that dies first rejects only whoever waits in drained(). */
  private owe(key: string, written: Promise<number>): void {
    written.catch(() => undefined);
    this.owed.set(key, written);
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for every start, then throws the first failure (so stop() sees every child that did start). */
async function settleAll(starts: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
