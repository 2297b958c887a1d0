// A fuzz worker: runs cases [from, to) of one target (or the inputs given to replay),
// marking each case's start in shared memory for the main thread's watchdog.

import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { CASE_LIMIT_MS, PROCESS_LIMIT_MS, type CaseResult, type FuzzTarget, type WorkerJob, type WorkerMessage } from './harness';
import { Rng } from './mutate';
import { TARGETS } from './targets';

const job = workerData as WorkerJob;

// What Sluice (or a library under it) prints as a process warning reaches an operator's
// terminal without saying where in the input it comes from: each one is a finding.
const warnings: string[] = [];
process.emitWarning = ((warning: string | Error): void => {
  warnings.push(typeof warning === 'string' ? warning : warning.message);
}) as typeof process.emitWarning;
const state = new Int32Array(job.progress);
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

/** An exception out of the target's own judging code: a harness bug, reported as a crash. */
async function judged(run: () => Promise<CaseResult> | CaseResult): Promise<CaseResult> {
  try {
    return await run();
  } catch (e) {
    return { failure: 'crash', detail: `escaped the target: ${(e as Error).stack ?? String(e)}` };
  }
}

async function main(): Promise<void> {
  const target = TARGETS[job.target] as FuzzTarget<unknown> | undefined;
  if (!target) throw new Error(`no fuzz target ${job.target}; there are ${Object.keys(TARGETS).join(', ')}`);
  const seeds = target.seeds();
  const outcomes: Record<string, number> = {};
  let processRuns = 0;
  let slowestMs = 0;
  for (let i = job.from; i < job.to; i++) {
    let input: unknown;
    try {
      input = job.replay ? target.fromJson(job.replay[i]) : target.generate(Rng.forCase(job.seed, i), seeds);
    } catch (e) {
      post({ type: 'failure', failure: { index: i, kind: 'crash', detail: `the harness could not make case ${i}: ${(e as Error).stack ?? String(e)}`, input: { seed: job.seed, index: i } } });
      continue;
    }
    // Only what running the case printed counts, not making it.
    warnings.length = 0;
    Atomics.store(state, 1, CASE_LIMIT_MS);
    Atomics.store(state, 0, i);
    const started = performance.now();
    const result = await judged(() => target.run(input));
    const ms = performance.now() - started;
    slowestMs = Math.max(slowestMs, ms);
    if (ms > CASE_LIMIT_MS) post({ type: 'slow', index: i, ms, input: target.toJson(input) });
    const results = [result, ...warnings.splice(0).map((w): CaseResult => ({ failure: 'unlocated', detail: `a process warning: ${w}` }))];
    if (target.runAsProcess && job.processEvery > 0 && i % job.processEvery === 0) {
      Atomics.store(state, 1, PROCESS_LIMIT_MS);
      Atomics.store(state, 0, -1 - i);
      results.push(await judged(() => target.runAsProcess!(input)));
      processRuns++;
    }
    for (const r of results) {
      if ('failure' in r) post({ type: 'failure', failure: { index: i, kind: r.failure, detail: r.detail, input: target.toJson(input) } });
      else outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    }
  }
  target.close?.();
  post({ type: 'done', outcomes, processRuns, slowestMs });
}

void main();
