// What one answer of serve's cost the process besides its wall time: CPU time, page
// faults (~13 µs each on this project's Firecracker VMs) and the garbage collections
// that ran meanwhile. For the debug log of a CNI ADD (bench/peers --timings,
// bench/idleAdd), to tell a slow answer's cause: faults, GC, or waiting.

import { readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { newSpace } from './heapHeadroom';

const newSpaceUsed = (): number => newSpace()?.space_used_size ?? 0;

/** The process's minor page faults so far (all threads). */
export const minorFaults = (): number => process.resourceUsage().minorPageFault;

export interface AnswerCost {
  /** User + system CPU time, ms. */
  readonly cpuMs: number;
  readonly minorFaults: number;
  readonly majorFaults: number;
  /** Collections that started during the answer: how many, their time, their kinds (perf_hooks' NODE_PERFORMANCE_GC_* flags). */
  readonly gcCount: number;
  readonly gcMs: number;
  readonly gcKinds: readonly number[];
  /** What the answer allocated in V8's new space, KiB (when no collection ran meanwhile: it empties the space). */
  readonly newSpaceKb?: number;
  /**
   * How long serve's threads waited for a CPU while runnable (Σ of /proc/self/task/∗/schedstat's
   * run delay), ms: with `schedstat` only (reading it costs ~0.3 ms of the answer).
   */
  readonly runQueueMs?: number;
}

/** Σ over the process's threads of the time spent runnable but waiting for a CPU, ns (0 where schedstat is missing). */
function runDelayNs(): number {
  try {
    return readdirSync('/proc/self/task').reduce((sum, tid) => sum + Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0), 0);
  } catch {
    // A thread that ended between the listing and its read, or no schedstat: nothing measured.
    return 0;
  }
}

/**
 * Node delivers GC entries to observers a turn or two after the collection (two
 * setImmediates): the cost is reported this long after the answer, not with it.
 */
const GC_DELIVERY_MS = 20;

export interface CostMeter {
  /** Calls `report` shortly after, with what happened between start and now. */
  finish(report: (cost: AnswerCost) => void): void;
}

export function startCostMeter(options: { readonly schedstat?: boolean } = {}): CostMeter {
  const delayAtStart = options.schedstat ? runDelayNs() : 0;
  const cpu = process.cpuUsage();
  const usage = process.resourceUsage();
  const newSpaceAtStart = newSpaceUsed();
  const startedAt = performance.now();
  const gcs: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    finish(report) {
      const endedAt = performance.now();
      const used = process.cpuUsage(cpu);
      const after = process.resourceUsage();
      const allocated = newSpaceUsed() - newSpaceAtStart;
      const runQueue = options.schedstat ? { runQueueMs: (runDelayNs() - delayAtStart) / 1e6 } : {};
      setTimeout(() => {
        observer.disconnect();
        const within = gcs.filter((e) => e.startTime >= startedAt && e.startTime <= endedAt);
        report({
          cpuMs: (used.user + used.system) / 1000,
          minorFaults: after.minorPageFault - usage.minorPageFault,
          majorFaults: after.majorPageFault - usage.majorPageFault,
          gcCount: within.length,
          gcMs: within.reduce((sum, e) => sum + e.duration, 0),
          ...runQueue,
          ...(within.length === 0 ? { newSpaceKb: Math.round(allocated / 1024) } : {}),
          gcKinds: within.map((e) => ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0)),
        });
      }, GC_DELIVERY_MS).unref();
    },
  };
}
