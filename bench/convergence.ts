// bench/convergence: after a demand change, how long until every container is within 5%
// of the link of its new ideal share (rates from the HTB class counters, sampled every
// 20 ms over 100 ms windows; converged once that holds for 500 ms). Shared mode (the kernel lends) and per-device mode (the
// reconciler lends, ticking every 500 ms), same scenario: batch and backup busy, then
// web (priority 0) starts; then web stops again.
//
// The meter itself lags: a windowed rate reaches within 5% of a step of a third of the
// link only once ~85% of its window lies after the step (~85 ms here). And a sender that
// stops writing still has data in flight (its socket's queue below TCP, up to
// tcp_limit_output_bytes, and the leaf queue of its class): the shaper sees its demand
// end only when that has passed. Both are printed beside the figure.
// Run as root: npx tsx bench/convergence.ts

import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { silentLogger } from '../src/ports/logger';
import { systemClock } from '../src/ports/clock';
import type { CompiledPolicy } from '../src/compile';
import { buildSandbox, teardownDemo } from '../src/demo/run';
import { policyJudge } from '../src/demo/written';
import { PEER_LINK, PEER_NETNS, peerState } from '../src/demo/peer';
import { TrafficRig } from '../src/demo/traffic';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { listNetns, deleteNetns } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
import { Reconciler } from '../src/reconcile/reconciler';
import { containerCounters } from '../src/traffic/snapshot';
import { readFileSync } from 'node:fs';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'convergence',
  usage: `bench/convergence: after a demand change, how long until every container is within 5% of the link of its new ideal share, shared and per-device mode
  flock /run/sluice-dev.lock npx tsx bench/convergence.ts   (root; builds the demo sandbox and drives traffic: under the lock)
  --help  this text`,
});

const TICK_MS = 500;
const SAMPLE_MS = 20;
const WINDOW_MS = 100;

function policyFor(mode: 'shared' | 'per-device'): Policy {
  const text = readFileSync('policies/demo.yaml', 'utf8').replace('mode: shared', `mode: ${mode}`).replace(/name: demo\b/, 'name: cv-demo').replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-cv-$1');
  const r = parsePolicyTexts([{ path: 'demo.yaml', text }]);
  if (!r.ok) throw new Error('policy');
  return r.policy;
}

interface Sample {
  readonly t: number;
  readonly bytes: Map<string, number>;
  /** Bytes waiting in each class's leaf queue. */
  readonly backlog: Map<string, number>;
}

/** Class byte counters; `meter` follows change announcements, so each sample is one class dump. */
async function sampleBytes(meter: RtnlKernel, compiled: CompiledPolicy): Promise<Sample> {
  const netns = [...new Set(compiled.containers.map((c) => c.classes.download!.netns))];
  const observed = await meter.observe({ netns, withStats: true });
  const t = performance.now();
  const counted = [...containerCounters(compiled, observed).values()].filter((c) => c.direction === 'download');
  return { t, bytes: new Map(counted.map((c) => [c.container, c.counters.bytes])), backlog: new Map(counted.map((c) => [c.container, c.counters.backlogBytes])) };
}

/** When the containers that stopped had their last byte through the shaper (their counters stop). */
function lastByteAt(samples: readonly Sample[], stopped: readonly string[]): number | undefined {
  let at: number | undefined;
  for (const name of stopped) {
    const final = samples[samples.length - 1]?.bytes.get(name);
    const first = samples.find((s) => s.bytes.get(name) === final);
    if (first) at = Math.max(at ?? 0, first.t);
  }
  return at;
}

/** How long the rates must hold within tolerance to count as converged. */
const HOLD_MS = 500;

interface Settling {
  /** Milliseconds from the change until every rate is within 5% of the link and holds for HOLD_MS. */
  readonly ms: number | undefined;
  /** Samples after that moment with some rate outside the tolerance (a sender stalled on a busy CPU, say). */
  readonly blips: number;
  readonly after: number;
}

function settling(samples: readonly Sample[], from: number, ideal: ReadonlyMap<string, number>, capacity: number): Settling {
  const within: { t: number; ok: boolean }[] = [];
  for (const s of samples) {
    if (s.t < from + WINDOW_MS) continue;
    const prev = [...samples].reverse().find((p) => p.t <= s.t - WINDOW_MS);
    if (!prev) continue;
    const ok = [...ideal].every(([name, want]) => {
      const rate = (((s.bytes.get(name) ?? 0) - (prev.bytes.get(name) ?? 0)) * 8 * 1000) / (s.t - prev.t);
      return Math.abs(rate - want) <= 0.05 * capacity;
    });
    within.push({ t: s.t, ok });
  }
  const end = within[within.length - 1]?.t ?? 0;
  const start = within.findIndex((w, i) => w.t + HOLD_MS <= end && within.slice(i).filter((x) => x.t <= w.t + HOLD_MS).every((x) => x.ok));
  if (start < 0) return { ms: undefined, blips: 0, after: 0 };
  const after = within.slice(start);
  return { ms: within[start]!.t - from, blips: after.filter((w) => !w.ok).length, after: after.length };
}

async function measure(mode: 'shared' | 'per-device'): Promise<void> {
  const policy = policyFor(mode);
  const kernel = new RtnlKernel();
  const meter = new RtnlKernel({ followChanges: true });
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  const deps = { kernel, applier };
  const compiled = await buildSandbox(deps, policy, () => undefined);
  let timer: NodeJS.Timeout | undefined;
  let stopLoop = false;
  if (mode === 'per-device') {
    const reconciler = new Reconciler(applier, systemClock, silentLogger, { extra: peerState(policy.host) });
    reconciler.setPolicy(policy);
    const loop = async (): Promise<void> => {
      if (stopLoop) return;
      await reconciler.tick();
      timer = setTimeout(() => void loop(), TICK_MS);
    };
    await loop();
  }
  const containers = compiled.containers.map((c) => ({ name: c.name, netns: c.netns!, address: c.address! }));
  const rig = await TrafficRig.start({ peerNetns: PEER_NETNS, peerAddress: PEER_LINK.peer, containers, directions: ['download'] });
  const capacity = policy.host.capacity.download;
  try {
    const steps: { label: string; active: string[] }[] = [
      { label: 'batch+backup start', active: ['batch', 'backup'] },
      { label: 'web joins (priority 0)', active: ['web', 'batch', 'backup'] },
      { label: 'web stops', active: ['batch', 'backup'] },
    ];
    let before: readonly string[] = [];
    for (const step of steps) {
      const samples: Sample[] = [];
      const queued = await sampleBytes(meter, compiled);
      rig.setActive('download', step.active);
      const from = performance.now();
      while (performance.now() - from < 5000) {
        samples.push(await sampleBytes(meter, compiled));
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
      const ideal = policyJudge(policy).expect('download', step.active).ideal;
      const settled = settling(samples, from, ideal, capacity);
      const ms = settled.ms;
      const ticks = mode === 'per-device' && ms !== undefined ? ` (~${Math.ceil(ms / TICK_MS)} ticks of ${TICK_MS} ms)` : '';
      const stopped = before.filter((name) => !step.active.includes(name));
      const drained = stopped.length > 0 ? lastByteAt(samples, stopped) : undefined;
      const inQueue = stopped.reduce((sum, name) => sum + (queued.backlog.get(name) ?? 0), 0);
      const drain = drained !== undefined ? `; the stopped sender's last byte passed the shaper ${(drained - from).toFixed(0)} ms after it stopped writing (${(inQueue / 1024).toFixed(0)} KiB of it in its leaf queue), so the shaper saw the change ${ms === undefined ? '-' : (ms - (drained - from)).toFixed(0)} ms before it converged` : '';
      const blips = settled.blips > 0 ? `; afterwards ${settled.blips} of ${settled.after} samples outside` : '';
      console.log(`  ${mode}: ${step.label}: within 5% of the link of the oracle (for ${HOLD_MS} ms) after ${ms === undefined ? 'never (in 5 s)' : `${ms.toFixed(0)} ms`}${ticks}${blips}${drain}`);
      before = step.active;
    }
  } finally {
    stopLoop = true;
    if (timer) clearTimeout(timer);
    await rig.stop();
    await teardownDemo(deps, policy);
    await meter.close();
    await kernel.close();
  }
}

async function main(): Promise<void> {
  for (const ns of listNetns()) if (ns.startsWith('sl-cv-') || ns === PEER_NETNS) deleteNetns(ns);
  console.log(`bench/convergence: rates over ${WINDOW_MS} ms windows sampled every ${SAMPLE_MS} ms (download direction, 100 mbit/s link)`);
  await measure('shared');
  await measure('per-device');
}

void main();
