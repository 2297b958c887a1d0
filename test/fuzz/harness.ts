// The fuzz harness: cases of one target run in a worker thread, case i's input generated
// from (seed, i) so any case is replayed exactly. The main thread watches the worker's
// progress: a case that runs over its allowance (1 s; longer for a case run as a process)
// is a hang, the worker is ended and a fresh one goes on with the next case. A case that
// finished but took over 1 s is run again alone, and counts as a hang if it is slow there too.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Rng } from './mutate';

export type FailureKind = 'crash' | 'unlocated' | 'exit-status' | 'hang';

/** What one case did: an outcome label (for the histogram), or what the oracle objects to. */
export type CaseResult = { readonly outcome: string } | { readonly failure: FailureKind; readonly detail: string };

export interface FuzzTarget<I> {
  readonly name: string;
  /** One line: what is fed to what. */
  readonly describe: string;
  /** Where mutations start: recorded or example inputs, and every regression case. */
  seeds(): readonly I[];
  /** Case input, deterministic in `rng`. */
  generate(rng: Rng, seeds: readonly I[]): I;
  /** Feeds the input to Sluice in this process and judges what came out. */
  run(input: I): Promise<CaseResult>;
  /** The same input fed to the built program as a process (exit status, output); a subset of cases. */
  runAsProcess?(input: I): CaseResult;
  toJson(input: I): unknown;
  fromJson(json: unknown): I;
  /** Removes what the target made for its cases (a temporary directory); after the last case. */
  close?(): void;
}

/** Ms a case may run; a case run as a process may take its start-up too. */
export const CASE_LIMIT_MS = 1000;
export const PROCESS_LIMIT_MS = 20_000;

export interface Failure {
  readonly index: number;
  readonly kind: FailureKind;
  readonly detail: string;
  readonly input: unknown;
}

export interface TargetReport {
  readonly target: string;
  readonly cases: number;
  readonly seconds: number;
  readonly processRuns: number;
  readonly slowestMs: number;
  /** Cases over 1 s in the run that were under it when run alone (the machine, not the code), and the slowest of those re-runs. */
  readonly slowOnlyUnderLoad: { readonly cases: number; readonly aloneMs: number };
  readonly outcomes: Readonly<Record<string, number>>;
  readonly failures: readonly Failure[];
}

/** Worker → main messages. */
export type WorkerMessage =
  | { readonly type: 'failure'; readonly failure: Failure }
  | { readonly type: 'slow'; readonly index: number; readonly ms: number; readonly input: unknown }
  | { readonly type: 'done'; readonly outcomes: Record<string, number>; readonly processRuns: number; readonly slowestMs: number };

export interface WorkerJob {
  readonly target: string;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
  /** Every n-th case also runs as a process (0: none). */
  readonly processEvery: number;
  /** Inputs to run as they are instead of generated ones (regression cases, a confirmation). */
  readonly replay?: readonly unknown[];
  /** Int32Array [case index, allowance ms]. */
  readonly progress: SharedArrayBuffer;
}

const WORKER = join(__dirname, 'worker.ts');

/** Where a target's regression cases live: one JSON file each, `{ "found": why, "input": … }`. */
export const regressionDir = (target: string): string => join(__dirname, 'corpus', target, 'regressions');

/** Every regression case of `target` (inputs as JSON), in file name order. */
export function regressionInputs(target: string): unknown[] {
  const dir = regressionDir(target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { input: unknown }).input);
}

function startWorker(job: WorkerJob): Worker {
  // The worker compiles the targets' TypeScript itself (tsx's require hook), under tsx and vitest alike.
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(WORKER)});`;
  return new Worker(code, { eval: true, workerData: job });
}

interface Segment {
  readonly outcomes: Record<string, number>;
  readonly processRuns: number;
  readonly slowestMs: number;
  readonly failures: Failure[];
  readonly slow: { index: number; input: unknown }[];
  /** Set when the worker was ended on a hang: where to go on. */
  readonly resumeAt?: number;
}

/** Runs [from, to) in one worker until it finishes or a case outlives its allowance. */
function runSegment(job: Omit<WorkerJob, 'progress'>): Promise<Segment> {
  const progress = new SharedArrayBuffer(8);
  const state = new Int32Array(progress);
  Atomics.store(state, 0, -1);
  Atomics.store(state, 1, 60_000);
  const worker = startWorker({ ...job, progress });
  const failures: Failure[] = [];
  const slow: { index: number; input: unknown }[] = [];
  return new Promise((resolve, reject) => {
    let lastIndex = -2;
    let since = Date.now();
    const watchdog = setInterval(() => {
      const index = Atomics.load(state, 0);
      if (index !== lastIndex) {
        lastIndex = index;
        since = Date.now();
        return;
      }
      if (Date.now() - since <= Atomics.load(state, 1) + 250) return;
      clearInterval(watchdog);
      void worker.terminate();
      if (index === -1) {
        reject(new Error(`the fuzz worker for ${job.target} did not start its first case in ${Date.now() - since} ms`));
        return;
      }
      // A case run as a process is marked -1 - index.
      const at = index < -1 ? -1 - index : index;
      failures.push({ index: at, kind: 'hang', detail: `no answer after ${Date.now() - since} ms${index < -1 ? ' (as a process)' : ''}; the worker was ended`, input: undefined });
      resolve({ outcomes: {}, processRuns: 0, slowestMs: Date.now() - since, failures, slow, resumeAt: at + 1 });
    }, 50);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'failure') failures.push(m.failure);
      else if (m.type === 'slow') slow.push({ index: m.index, input: m.input });
      else {
        clearInterval(watchdog);
        void worker.terminate();
        resolve({ outcomes: m.outcomes, processRuns: m.processRuns, slowestMs: m.slowestMs, failures, slow });
      }
    });
    worker.on('error', (e) => {
      clearInterval(watchdog);
      reject(e);
    });
  });
}

/** Case `index`'s input, as the worker generated it (for the report of a case that never answered). */
async function regenerate(name: string, seed: number, index: number): Promise<unknown> {
  const { TARGETS } = await import('./targets');
  const target = TARGETS[name] as FuzzTarget<unknown>;
  return target.toJson(target.generate(Rng.forCase(seed, index), target.seeds()));
}

function add(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/**
 * `cases` cases of `target` from `seed`; every `processEvery`-th also as a process.
 * `replay`: run exactly these inputs instead (the corpus' regression cases).
 */
export async function runTarget(target: string, options: { cases: number; seed: number; processEvery?: number; replay?: readonly unknown[] }): Promise<TargetReport> {
  const started = Date.now();
  const total = options.replay?.length ?? options.cases;
  const outcomes: Record<string, number> = {};
  const failures: Failure[] = [];
  let processRuns = 0;
  let slowestMs = 0;
  const slowOnlyUnderLoad = { cases: 0, aloneMs: 0 };
  for (let from = 0; from < total; ) {
    const segment = await runSegment({ target, seed: options.seed, from, to: total, processEvery: options.processEvery ?? 0, ...(options.replay ? { replay: options.replay } : {}) });
    add(outcomes, segment.outcomes);
    processRuns += segment.processRuns;
    slowestMs = Math.max(slowestMs, segment.slowestMs);
    failures.push(...segment.failures.filter((f) => f.kind !== 'hang'));
    for (const hang of segment.failures.filter((f) => f.kind === 'hang')) failures.push({ ...hang, input: options.replay?.[hang.index] ?? (await regenerate(target, options.seed, hang.index)) });
    // Slow but finished: slow again alone (nothing else in the worker), or it was the machine.
    for (const s of segment.slow) {
      const alone = await runSegment({ target, seed: 0, from: 0, to: 1, processEvery: 0, replay: [s.input] });
      if (alone.resumeAt !== undefined || alone.slowestMs > CASE_LIMIT_MS) failures.push({ index: s.index, kind: 'hang', detail: `over ${CASE_LIMIT_MS} ms, also when run alone (${alone.slowestMs} ms)`, input: s.input });
      else {
        slowOnlyUnderLoad.cases++;
        slowOnlyUnderLoad.aloneMs = Math.max(slowOnlyUnderLoad.aloneMs, alone.slowestMs);
      }
    }
    from = segment.resumeAt ?? total;
  }
  return { target, cases: total, seconds: (Date.now() - started) / 1000, processRuns, slowestMs, slowOnlyUnderLoad, outcomes, failures };
}
