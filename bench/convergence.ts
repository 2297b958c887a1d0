// bench/convergence: after a demand change, how long until every container is within 5%
// of the link of its new ideal share (rates from the HTB class counters, sampled every
// 50 ms over 200 ms windows). Shared mode (the kernel lends) and per-device mode (the
// reconciler lends, ticking every 500 ms), same scenario: batch and backup busy, then
// web (priority 0) starts; then web stops again.
// Run as root: npx tsx bench/convergence.ts

import { allocate } from '../src/allocate/oracle';
import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/app/ownership';
import { nativeProbe } from '../src/app/runtime';
import { silentLogger } from '../src/app/logger';
import { systemClock } from '../src/app/tokens';
import type { CompiledPolicy } from '../src/compile';
import { buildSandbox, oracleInputs, teardownDemo } from '../src/demo/run';
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

const TICK_MS = 500;
const SAMPLE_MS = 50;
const WINDOW_MS = 200;

function policyFor(mode: 'shared' | 'per-device'): Policy {
  const text = readFileSync('policies/demo.yaml', 'utf8').replace('mode: shared', `mode: ${mode}`).replace(/name: demo\b/, 'name: cv-demo').replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-cv-$1');
  const r = parsePolicyTexts([{ path: 'demo.yaml', text }]);
  if (!r.ok) throw new Error('policy');
  return r.policy;
}

interface Sample {
  readonly t: number;
  readonly bytes: Map<string, number>;
}

async function sampleBytes(kernel: RtnlKernel, compiled: CompiledPolicy): Promise<Map<string, number>> {
  const netns = [...new Set(compiled.containers.map((c) => c.classes.download!.netns))];
  const counted = containerCounters(compiled, await kernel.observe({ netns, withStats: true }));
  return new Map([...counted.values()].filter((c) => c.direction === 'download').map((c) => [c.container, c.counters.bytes]));
}

/** Milliseconds from `from` until the windowed rates stay within 5% of the link of `ideal`. */
function settleTime(samples: Sample[], from: number, ideal: ReadonlyMap<string, number>, capacity: number): number | undefined {
  let settledAt: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.t < from + WINDOW_MS) continue;
    const prev = [...samples].reverse().find((p) => p.t <= s.t - WINDOW_MS);
    if (!prev) continue;
    const ok = [...ideal].every(([name, want]) => {
      const rate = (((s.bytes.get(name) ?? 0) - (prev.bytes.get(name) ?? 0)) * 8 * 1000) / (s.t - prev.t);
      return Math.abs(rate - want) <= 0.05 * capacity;
    });
    if (ok) settledAt ??= s.t;
    else settledAt = undefined;
  }
  return settledAt === undefined ? undefined : settledAt - from;
}

async function measure(mode: 'shared' | 'per-device'): Promise<void> {
  const policy = policyFor(mode);
  const kernel = new RtnlKernel();
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
    for (const step of steps) {
      const samples: Sample[] = [];
      rig.setActive('download', step.active);
      const from = performance.now();
      while (performance.now() - from < 5000) {
        samples.push({ t: performance.now(), bytes: await sampleBytes(kernel, compiled) });
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
      const ideal = allocate(capacity, oracleInputs(compiled, 'download', step.active, capacity));
      const ms = settleTime(samples, from, ideal, capacity);
      const ticks = mode === 'per-device' && ms !== undefined ? ` (~${Math.ceil(ms / TICK_MS)} ticks of ${TICK_MS} ms)` : '';
      console.log(`  ${mode}: ${step.label}: within 5% of the link of the oracle after ${ms === undefined ? 'never (in 5 s)' : `${ms.toFixed(0)} ms`}${ticks}`);
    }
  } finally {
    stopLoop = true;
    if (timer) clearTimeout(timer);
    await rig.stop();
    await teardownDemo(deps, policy);
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
