// CI's fuzz smoke: 5,000 cases of every target (bench/fuzz.ts runs 100,000), every 1,000th
// also as a process, and every regression case in the corpus replayed exactly. A fixed
// seed (SLUICE_FUZZ_SEED=<n> for another), so a red run is a finding, replayed the same.
// Runtime: ~1-2 min here (a loaded 2-core VM), most of it the policy targets' processes.
import { beforeAll, describe, expect, it } from 'vitest';
import { regressionInputs, runTarget, type Failure } from './harness';
import { TARGETS } from './targets';
import { buildDist } from '../support/dist';

const SEED = Number(process.env['SLUICE_FUZZ_SEED'] ?? 24);
const summary = (failures: readonly Failure[]): string[] => failures.map((f) => `${f.kind} at ${f.index}: ${f.detail.split('\n')[0]}\n${JSON.stringify(f.input).slice(0, 1500)}`);

describe(`fuzz smoke (seed ${SEED})`, () => {
  // The process cases run the built bin/sluice.js and bin/sluice-cni.js.
  beforeAll(() => buildDist(), 120_000);

  for (const name of Object.keys(TARGETS)) {
    it(`${name}: 5,000 cases, no crash, hang, unlocated finding or undocumented exit`, async () => {
      const report = await runTarget(name, { cases: 5000, seed: SEED, processEvery: 1000 });
      expect(summary(report.failures)).toEqual([]);
      expect(report.cases).toBe(5000);
    }, 600_000);

    it(`${name}: every regression case in the corpus`, async () => {
      const replay = regressionInputs(name);
      const report = await runTarget(name, { cases: 0, seed: SEED, replay });
      expect(summary(report.failures)).toEqual([]);
    }, 120_000);
  }
});
