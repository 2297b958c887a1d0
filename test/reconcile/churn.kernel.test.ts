// Churn under load: the daemon's reconcile loop (as `serve` runs it, following the
// kernel's announcements) with 1,000 steady containers, three of them busy downloading,
// while containers start and stop at 50 per second for 60 s (each a namespace Sluice
// creates and removes as the policy changes, as when serve reloads its policy files).
// Afterwards nothing has leaked (namespaces, links, classes, filters, descriptors,
// sockets), memory is flat, every tick succeeded, and the busy containers kept their
// guarantees in every 5 s window (a relative floor, as every verdict: 90% of min(ideal,
// guarantee)). The rate of starts achieved is printed, not asserted: it is the machine's
// speed (24–50/s on one commit as the load went from ~9 to ~2); bench/churnTick.ts
// measures the tick side by side.
// SLUICE_CHURN_SECONDS shortens it (any whole number of seconds). Runtime: ~70 s.
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { silentLogger } from '../../src/ports/logger';
import { nativeProbe } from '../../src/wiring/runtime';
import { systemClock } from '../../src/ports/clock';
import { TrafficRig } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { ContainerPolicy, Policy } from '../../src/policy/model';
import { Reconciler } from '../../src/reconcile/reconciler';
import { judgeAllocation } from '../../src/measure/verdict';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { describeKernel, netnsList, removeNamespaces, sh } from '../support/kernel';
import { judgeOf } from '../support/written';

const HOST = 'sl-ch-host';
const STEADY = 1000;
const PER_SECOND = 50;
const SECONDS = Number(process.env.SLUICE_CHURN_SECONDS ?? 60);
/**
 * A tick every 400 ms, each starting 20 containers and stopping the 20 of the tick
 * before, as serve takes whatever changed since its last tick. Not one tick a second with
 * 50 each way: a Linux bridge has at most 1,023 ports (BR_MAX_PORTS, the 1,024th fails
 * with EXFULL), and 1,000 steady containers leave room for 23 more veths on it (the plan
 * deletes before it creates: 1,020 at most). A tick over 400 ms delays the next one, so
 * the rate achieved is measured, not assumed.
 */
const TICKS_PER_SECOND = 2.5;
const PER_TICK = PER_SECOND / TICKS_PER_SECOND;
const LIFETIME_TICKS = 1;
/**
 * RSS climbs at the start of churn (heap and the kernel-state caches growing to size),
 * then holds: measured from here. The climb took ~15 s alone and ~20 s in CI's run of
 * the whole kernel suite (the worker's heap already grown by earlier files). It swings
 * ±8% tick to tick with the collector, so memory is compared as the median over the
 * 10 s before this and the last 10 s.
 */
const WARMUP_S = Math.min(30, Math.floor(SECONDS / 2));
/** The busy ones: guarantees that add up, with the idle ones', to less than the link. */
const BUSY = [
  { index: 0, guarantee: 40e6, priority: 0 },
  { index: 1, guarantee: 20e6, priority: 1 },
  { index: 2, guarantee: 10e6, priority: 2 },
] as const;
/** Several TCP flows per busy container, as real services open: one flow's retransmission timeout is not the container's. */
const FLOWS = 4;
/** The window each guarantee is judged over: one average over the run would hide a 10 s outage. */
const TIMELINE_MS = 5000;
const RSS_MARGIN = 0.15;
const source = { file: 'churn', line: 1, column: 1 };

function container(name: string, netns: string, address: string, guarantee: number, priority: number): ContainerPolicy {
  const direction = { guarantee: bitsPerSec(guarantee), ceiling: bitsPerSec(100e6), priority };
  return { name, match: { kind: 'managed', netns }, address, bandwidth: { download: direction, upload: direction }, source };
}

const steady: ContainerPolicy[] = Array.from({ length: STEADY }, (_, i) => {
  const busy = BUSY.find((b) => b.index === i);
  return container(`s${i}`, `sl-ch-s${i}`, `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`, busy?.guarantee ?? 20e3, busy?.priority ?? 7);
});

/** Churned container k: addresses recycle long after their previous holder stopped. */
const churned = (k: number): ContainerPolicy => container(`c${k}`, `sl-ch-c${k}`, `198.18.${10 + Math.floor((k % 1000) / 250)}.${2 + (k % 250)}`, 20e3, 7);

function policyWith(containers: readonly ContainerPolicy[]): Policy {
  return {
    host: { name: 'churn', mode: 'shared', netns: HOST, bridge: 'sl-br0', ifb: 'sl-ifb0', subnet: '198.18.0.0/16', gateway: '198.18.0.1', capacity: { download: bitsPerSec(100e6), upload: bitsPerSec(100e6) }, overcommit: 'reject', external: false, sources: [], source },
    containers,
    groups: [],
    schedules: [],
  };
}

interface Counts {
  readonly namespaces: number;
  readonly links: number;
  readonly classes: number;
  readonly filters: number;
}

const lines = (text: string): number => text.split('\n').filter((l) => l.trim().length > 0).length;

async function kernelCounts(): Promise<Counts> {
  const tc = async (what: 'class' | 'filter', dev: string): Promise<number> => lines(await sh('tc', ['-n', HOST, what, 'show', 'dev', dev]));
  return {
    namespaces: (await netnsList()).filter((n) => n.startsWith('sl-ch-')).length,
    links: lines(await sh('ip', ['-n', HOST, '-o', 'link', 'show'])),
    classes: (await tc('class', 'sl-br0')) + (await tc('class', 'sl-ifb0')),
    filters: (await tc('filter', 'sl-br0')) + (await tc('filter', 'sl-ifb0')),
  };
}

/** This process's descriptors, and how many of them are sockets (netlink ones included). */
function descriptors(): { fds: number; sockets: number } {
  const fds = readdirSync('/proc/self/fd');
  let sockets = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return { fds: fds.length, sockets };
}

const medianOf = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The busy containers as this test writes them, all sending: what the judge expects of them. */
const busyJudge = judgeOf({
  capacity: { download: bitsPerSec(100e6), upload: bitsPerSec(100e6) },
  containers: BUSY.map((b) => {
    const d = { guarantee: bitsPerSec(b.guarantee), priority: b.priority };
    return { name: `s${b.index}`, download: d, upload: d };
  }),
}).expect('download', BUSY.map((b) => `s${b.index}`));

/** Busy containers below their relative floor in one window of goodput; empty when all held. */
function missedFloors(goodput: ReadonlyMap<string, BitsPerSec>): string[] {
  const verdict = judgeAllocation({ capacity: busyJudge.capacity, containers: busyJudge.containers, measuredGoodput: goodput }, () => busyJudge.ideal);
  return verdict.containers.filter((c) => !c.floorPass).map((c) => `${c.id} ${(c.measured / 1e6).toFixed(1)} < ${(c.floor / 1e6).toFixed(1)} mbit/s`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeKernel('churn under load: 50 containers/s for 60 s beside 1,000 steady ones, traffic flowing', [], () => {
  let kernel: RtnlKernel;
  let applier: Applier;
  let rig: TrafficRig | undefined;

  beforeAll(async () => {
    await removeNamespaces('sl-ch-');
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  });

  // Destroying 1,000 namespaces takes longer than a hook's default 10 s on a busy host.
  afterAll(async () => {
    await rig?.stop();
    await applier?.destroy('churn').catch(() => undefined);
    await kernel?.close();
    await removeNamespaces('sl-ch-');
  }, 180_000);

  it('leaks nothing, keeps memory flat, and the busy containers keep their guarantees', { timeout: 400_000 }, async () => {
    const reconciler = new Reconciler(applier, systemClock, silentLogger);
    reconciler.setPolicy(policyWith(steady));
    const first = await reconciler.tick();
    expect(first.error).toBeUndefined();
    expect((await reconciler.tick()).operations).toBe(0);
    const before = await kernelCounts();

    rig = await TrafficRig.start({
      peerNetns: HOST,
      peerAddress: '198.18.0.1',
      containers: BUSY.map((b) => ({ name: `s${b.index}`, netns: `sl-ch-s${b.index}`, address: steady[b.index]!.address!, flows: FLOWS })),
      directions: ['download'],
    });
    rig.setActive('download', BUSY.map((b) => `s${b.index}`));

    const started = performance.now();
    let warm: { fds: number; sockets: number; at: number } | undefined;
    const alive: number[] = [];
    let next = 0;
    const tickMs: number[] = [];
    let failedTicks = 0;
    let firstError: string | undefined;
    let operations = 0;
    const rssMiB: number[] = [];
    const rssBySecond: { second: number; rss: number }[] = [];
    for (let slot = 0; slot < SECONDS * TICKS_PER_SECOND; slot++) {
      const second = slot / TICKS_PER_SECOND;
      for (let i = 0; i < PER_TICK; i++) alive.push(next++);
      while (alive.length > PER_TICK * LIFETIME_TICKS) alive.shift();
      reconciler.setPolicy(policyWith([...steady, ...alive.map(churned)]));
      const tick = await reconciler.tick();
      tickMs.push(tick.durationMs);
      operations += tick.operations;
      if (tick.error) {
        failedTicks++;
        firstError ??= `second ${second}: ${tick.error.message}`;
      }
      rssBySecond.push({ second, rss: process.memoryUsage.rss() });
      if (slot % Math.round(TICKS_PER_SECOND * 5) === 0) rssMiB.push(Math.round(rssBySecond.at(-1)!.rss / 2 ** 20));
      // The first tick at or past the warm-up point: a tick falls on a whole second only every 2.
      if (warm === undefined && second >= WARMUP_S) warm = { ...descriptors(), at: monotonicMs() };
      const due = started + ((slot + 1) * 1000) / TICKS_PER_SECOND;
      if (performance.now() < due) await sleep(due - performance.now());
    }
    const churnEnd = performance.now();
    await sleep(300);
    const measuredTo = monotonicMs() - 300;
    const goodput = rig.goodput('download', warm!.at, measuredTo, 0);
    const timeline = new Map<string, number[]>();
    const missed: string[] = [];
    for (let from = warm!.at; from + TIMELINE_MS <= measuredTo; from += TIMELINE_MS) {
      const window = rig.goodput('download', from, from + TIMELINE_MS, 0);
      for (const [name, rate] of window) timeline.set(name, [...(timeline.get(name) ?? []), Math.round(rate / 1e6)]);
      missed.push(...missedFloors(window).map((m) => `${((from - warm!.at) / 1000).toFixed(0)}–${((from - warm!.at + TIMELINE_MS) / 1000).toFixed(0)} s after warm-up: ${m}`));
    }
    const windows = timeline.get(`s${BUSY[0].index}`)?.length ?? 0;

    // The churned containers leave; the steady ones stay.
    reconciler.setPolicy(policyWith(steady));
    expect((await reconciler.tick()).error).toBeUndefined();
    // Taken with the traffic still running, as at warm-up (its children hold pipes).
    const end = descriptors();
    const rss = {
      warm: medianOf(rssBySecond.filter((r) => r.second > WARMUP_S - 10 && r.second <= WARMUP_S).map((r) => r.rss)),
      end: medianOf(rssBySecond.filter((r) => r.second >= SECONDS - 10).map((r) => r.rss)),
    };
    await rig.stop();
    rig = undefined;
    // Namespace cleanup in the kernel is asynchronous: the veths' other ends go with it.
    await expect.poll(kernelCounts, { timeout: 30_000, interval: 500 }).toEqual(before);
    expect((await reconciler.tick()).operations).toBe(0);

    const sorted = [...tickMs].sort((a, b) => a - b);
    const figures = {
      seconds: SECONDS,
      started: next,
      wallSeconds: Math.round((churnEnd - started) / 100) / 10,
      failedTicks,
      firstError,
      operations,
      startsPerSecond: Math.round((next / ((churnEnd - started) / 1000)) * 10) / 10,
      tickMs: { median: Math.round(sorted[Math.floor(sorted.length / 2)]!), p95: Math.round(sorted[Math.floor(sorted.length * 0.95)]!), max: Math.round(sorted.at(-1)!) },
      before,
      fds: { warm: warm!.fds, end: end.fds },
      sockets: { warm: warm!.sockets, end: end.sockets },
      rssMiB: { warmMedian: Math.round(rss.warm / 2 ** 20), endMedian: Math.round(rss.end / 2 ** 20), per5s: rssMiB },
      goodputMbit: Object.fromEntries([...goodput].map(([name, rate]) => [name, Math.round(rate / 1e5) / 10])),
      goodputMbitPer5s: Object.fromEntries(timeline),
      floorsMissed: missed,
    };
    console.log(`churn figures: ${JSON.stringify(figures)}`);
    expect(failedTicks).toBe(0);
    expect(end.fds).toBeLessThanOrEqual(warm!.fds);
    expect(end.sockets).toBeLessThanOrEqual(warm!.sockets);
    expect(rss.end).toBeLessThanOrEqual(rss.warm * (1 + RSS_MARGIN));
    expect(windows, 'whole 5 s windows judged after warm-up').toBeGreaterThanOrEqual(Math.floor((SECONDS - WARMUP_S) * 1000 / TIMELINE_MS) - 1);
    expect(missed, 'busy containers below their floor, per 5 s window').toEqual([]);
  });
});
