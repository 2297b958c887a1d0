// bench/apply: a full apply (namespaces, veths, addresses, routes, classes, filters) of N
// managed containers, and a no-op reconcile tick (observe + compile + diff, nothing to do)
// over 1,000 and 10,000 classes. Targets: < 5 ms per container; no-op tick < 100 ms at 10,000.
// Run as root: npx tsx bench/apply.ts [apply|tick] (both by default)
//   --groups N   apply: 1,000 containers flat and in N groups, alternating (twice each);
//                tick: the 10,000 classes flat and with the containers in N groups

import { Applier } from '../src/apply/applier';
import { FileOwnershipStore, type OwnershipStore } from '../src/ports/ownership';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeProbe } from '../src/wiring/runtime';
import { silentLogger } from '../src/ports/logger';
import { systemClock } from '../src/ports/clock';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { listNetns, deleteNetns, NETNS_RUN_DIR } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import type { Policy } from '../src/policy/model';
import { executeInStages, syntheticPolicyDirect } from './fixtures';
import { Reconciler } from '../src/reconcile/reconciler';
import type { Plan } from '../src/tc/operation';
import type { ExecutionReport, KernelPort, ObserveScope } from '../src/kernel/port';
import type { ObservedState } from '../src/tc/model';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'apply',
  usage: `bench/apply: a full apply of 100 and 1,000 managed containers (namespaces, veths, addresses, routes, classes, filters), and a no-op reconcile tick over 1,000 and 10,000 classes
  flock /run/sluice-dev.lock npx tsx bench/apply.ts [apply|tick] [options]   (root; builds namespaces: under the lock)
  apply|tick   only the full apply, or only the no-op ticks (both)
  --groups N   apply: 1,000 containers flat and in N groups, alternating; tick: the 10,000 classes flat and in N groups (0: flat only)
  --help       this text`,
  valued: ['--groups'],
  positionals: { max: 1, pattern: /^(apply|tick)$/ },
});

const policy = (n: number, match: 'managed' | 'ip', groups = 0): Policy =>
  syntheticPolicyDirect(n, { match, name: `bench-${match}-${n}`, hostNetns: 'sl-ab-host', namespacePrefix: 'sl-ab-c', groups });

function groupsOption(): number {
  const at = process.argv.indexOf('--groups');
  return at < 0 ? 0 : Number(process.argv[at + 1]);
}

function cleanup(): void {
  for (const ns of listNetns()) if (ns.startsWith('sl-ab-')) deleteNetns(ns);
}

/** Microseconds to create one empty file in /run/netns, as each namespace needs, now. */
function fileCreateMicros(): number {
  const paths = Array.from({ length: 20 }, (_, i) => `${NETNS_RUN_DIR}/sl-ab-probe-${i}`);
  const t = performance.now();
  for (const path of paths) closeSync(openSync(path, 'wx'));
  const micros = ((performance.now() - t) * 1000) / paths.length;
  for (const path of paths) unlinkSync(path);
  return micros;
}

/** Network namespaces the kernel still holds (slab objects): falls while it cleans up. */
function kernelNetnsCount(): number {
  const line = readFileSync('/proc/slabinfo', 'utf8').split('\n').find((l) => l.startsWith('net_namespace '));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}

/**
 * Waits out the previous run before timing the next. A deleted namespace is cleaned up
 * by the kernel for seconds after `destroy` returns, holding locks a new one needs. And
 * on a journal-less ext4 (this VM's /run; a tmpfs on a stock Debian), a new inode skips
 * every one freed in the last 60 s (longer while the inode table is not yet written
 * back): 1,000 namespace files made right after 1,000 were deleted cost ~0.4–1 ms each
 * instead of ~40 µs. A small probe of file creation does not see that (it finds the
 * older free inodes first), so after this bench's own destroy the wait is by the clock.
 */
async function settle(): Promise<void> {
  const start = performance.now();
  let previous = kernelNetnsCount();
  const quietAt = lastDestroyAt + EXT4_RECENTLY_DELETED_MS;
  for (let stableFor = 0; stableFor < 3 || performance.now() < quietAt || fileCreateMicros() > QUIET_FILE_CREATE_MICROS; ) {
    if (performance.now() - start > 180_000) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const count = kernelNetnsCount();
    stableFor = count < previous ? 0 : stableFor + 1;
    previous = count;
  }
  console.log(`  (waited ${((performance.now() - start) / 1000).toFixed(0)} s for the last run's namespaces to be cleaned up and forgotten)`);
}
const QUIET_FILE_CREATE_MICROS = 100;
/** ext4's RECENTCY_MIN (60 s) plus the 30 s a dirty inode table may wait for writeback. */
const EXT4_RECENTLY_DELETED_MS = 95_000;
let lastDestroyAt = -Infinity;

async function destroyTimed(applier: Applier, p: Policy): Promise<number> {
  const t = performance.now();
  await applier.destroy(p.host.name, p);
  lastDestroyAt = performance.now();
  return lastDestroyAt - t;
}

/** One apply on a settled machine, timed, and how many operations a second apply right after it plans. */
async function timedApply(applier: Applier, p: Policy): Promise<{ ms: number; operations: number; second: number }> {
  await settle();
  const t = performance.now();
  const outcome = await applier.apply(p);
  const ms = performance.now() - t;
  if (outcome.report.failed) throw outcome.report.failed.error;
  const again = await applier.apply(p);
  return { ms, operations: outcome.report.applied.length, second: again.plan.length };
}

async function stages(applier: Applier, kernel: RtnlKernel, store: OwnershipStore, p: Policy): Promise<void> {
  const planned = await applier.plan(p);
  for (const stage of await executeInStages(kernel, store, p, planned.plan)) console.log(`  ${stage.label}: ${stage.operations} operations, ${stage.ms.toFixed(0)} ms`);
  await destroyTimed(applier, p);
}

/** The kernel port with the time of its last observe, so a tick can be split into its stages. */
class TimedKernel implements KernelPort {
  lastObserveMs = 0;
  constructor(private readonly inner: KernelPort) {}
  async observe(scope: ObserveScope): Promise<ObservedState> {
    const t = performance.now();
    const observed = await this.inner.observe(scope);
    this.lastObserveMs = performance.now() - t;
    return observed;
  }
  execute(plan: Plan): Promise<ExecutionReport> {
    return this.inner.execute(plan);
  }
  release(netns: readonly string[]): void {
    this.inner.release(netns);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  cleanup();
  const kernel = new RtnlKernel();
  // The ownership record as production keeps it: a file, written (and synced) ahead of each plan's creates.
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const store = new FileOwnershipStore(dir);
  const applier = new Applier(kernel, store, nativeProbe, await detectFeatures());
  const only = process.argv[2];
  const groups = groupsOption();
  try {
    if (only !== 'tick') await (groups > 0 ? groupedApply(applier, groups) : fullApply(applier, kernel, store));
    if (only !== 'apply') await noopTicks(applier, store, groups);
  } finally {
    await kernel.close();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fullApply(applier: Applier, kernel: RtnlKernel, store: OwnershipStore): Promise<void> {
  console.log('bench/apply: full apply of N managed containers (target < 5 ms per container)');
  for (const n of [100, 1000]) {
    const p = policy(n, 'managed');
    const { ms, operations, second } = await timedApply(applier, p);
    console.log(`  ${n} containers: ${operations} operations in ${ms.toFixed(0)} ms = ${(ms / n).toFixed(2)} ms per container; second apply: ${second} operations`);
    console.log(`  destroy: ${(await destroyTimed(applier, p)).toFixed(0)} ms`);
  }
  console.log('where a 1,000-container apply spends its time (the same plan, executed in stages):');
  await settle();
  await stages(applier, kernel, store, policy(1000, 'managed'));
}

/** 1,000 containers flat and in `groups` groups, alternating: the apply time of each, and their ratio. */
async function groupedApply(applier: Applier, groups: number): Promise<void> {
  console.log(`bench/apply: full apply of 1,000 managed containers, flat and in ${groups} groups, alternating (target: grouped ≤ 1.1× flat)`);
  const times: Record<string, number[]> = { flat: [], grouped: [] };
  for (let round = 0; round < 2; round++) {
    for (const [label, g] of [['flat', 0], ['grouped', groups]] as const) {
      const p = policy(1000, 'managed', g);
      const { ms, operations, second } = await timedApply(applier, p);
      times[label]!.push(ms);
      console.log(`  ${label}: ${operations} operations in ${ms.toFixed(0)} ms = ${(ms / 1000).toFixed(2)} ms per container; second apply: ${second} operations; destroy ${(await destroyTimed(applier, p)).toFixed(0)} ms`);
    }
  }
  const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`  grouped / flat: ${(mean(times.grouped!) / mean(times.flat!)).toFixed(3)} (means of ${times.flat!.length} rounds)`);
}

const TICK_MODES = [
  { label: 'reading everything every tick', followChanges: false },
  { label: 'following announcements (as serve runs)', followChanges: true },
] as const;

/**
 * Both ways of ticking, side by side on the same kernel objects. A following tick reads
 * everything only after an announced change (and every 60th tick); the others read class
 * counters alone. New devices announce their carrier up to a second late: waited out first.
 */
async function noopTicks(applier: Applier, store: OwnershipStore, groups: number): Promise<void> {
  console.log('no-op reconcile tick (observe with counters + compile + diff + traffic snapshot; nothing to execute), target < 100 ms at 10,000 classes');
  const runs = groups > 0 ? [[5000, 0], [5000, groups]] : [[500, 0], [5000, 0]];
  for (const [n, g] of runs as [number, number][]) {
    const p = policy(n, 'ip', g);
    if (g > 0) console.log(`  the same containers in ${g} groups:`);
    await applier.apply(p);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const mode of TICK_MODES) {
      const kernel = new RtnlKernel({ followChanges: mode.followChanges });
      const timed = new TimedKernel(kernel);
      // The daemon restarted over what the apply made: the same record.
      const reconciler = new Reconciler(new Applier(timed, store, nativeProbe, await detectFeatures()), systemClock, silentLogger);
      reconciler.setPolicy(p);
      await reconciler.tick();
      const times: number[] = [];
      const observeTimes: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await reconciler.tick();
        if (r.operations !== 0) throw new Error(`no-op tick did ${r.operations} operations`);
        times.push(r.durationMs);
        observeTimes.push(timed.lastObserveMs);
      }
      await kernel.close();
      const rest = times.map((t, i) => t - observeTimes[i]!);
      console.log(
        `  ${2 * n} classes, ${mode.label}: median ${median(times).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)} over 10 ticks ` +
          `(median: observe ${median(observeTimes).toFixed(0)} ms, then compile + diff + snapshot ${median(rest).toFixed(0)} ms)`,
      );
    }
    await applier.destroy(p.host.name, p);
  }
}

void main();
