// Random policies with real TCP traffic, shared mode, both directions: each draw (see
// test/support/randomPolicy.ts) is applied to a fresh sandbox, its busy containers send
// with their own number of flows, and every container is judged against the oracle fed
// with the draw itself (not the compiled classes, nor even the policy text made of it),
// within 3% of the link and at its relative floor, utilisation >= 95% of what the oracle
// hands out. Seeded: one draw per seed, a fixed list (10 draws, 3 of them at 1 Gbit/s)
// plus one random extra, every seed printed; SLUICE_SEED=<seed>[,<seed>…] replays.
// Runtime: ~11 s per draw (two 4 s phases and the sandbox), ~2 min in all.
import { expect, it } from 'vitest';
import { buildSandbox, runPhases, sandboxSite } from '../../src/demo/run';
import { formatVerdict } from '../../src/measure/verdict';
import { describeKernel } from '../support/kernel';
import { describeDraw, drawFromSeed, parseDraw } from '../support/randomPolicy';
import { sandboxSuite } from '../support/sandboxSuite';
import { seedPlan } from '../support/seeds';
import { judgeOf, writtenFromDraw } from '../support/written';

const PREFIX = 'rp-';
/** Seeds 1–10: sizes 3–6, 1–8 flows, ceilings, equal priorities, three draws at 1 Gbit/s. */
const FIXED_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };

const plan = seedPlan('SLUICE_SEED', FIXED_SEEDS);
const draws = plan.seeds.map((seed, i) => ({ seed, draw: drawFromSeed(seed, i) }));

describeKernel('random policies, shared mode, real traffic', [], () => {
  const suite = sandboxSuite(PREFIX, `random policies: ${plan.banner}`);

  for (const { seed, draw } of draws) {
    it(`seed ${seed}: draw ${describeDraw(draw)}`, async () => {
      const policy = parseDraw(draw, PREFIX);
      suite.uses(policy);
      const compiled = await buildSandbox(suite.deps(), policy, () => undefined);
      const site = sandboxSite(compiled);
      const byName = new Map(draw.containers.map((c) => [c.name, c]));
      // Idle containers need no sender: they are judged against an ideal of 0.
      const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
      const containers = site.containers.filter((c) => byName.get(c.name)!.busy).map((c) => ({ ...c, flows: byName.get(c.name)!.flows }));
      const results = await runPhases(suite.deps(), compiled, { ...site, containers }, {
        judge: judgeOf(writtenFromDraw(draw)),
        phases: [{ name: `draw-${draw.index}`, shows: 'random policy', active: busy }],
        directions: ['download', 'upload'],
        phaseSeconds: 4,
        warmupSeconds: 1.5,
        out: () => undefined,
        live: false,
        tolerance: TOLERANCE,
      });
      for (const r of results) console.log(`seed ${seed} (SLUICE_SEED=${seed}) ${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.direction} ${describeDraw(draw)}\n${formatVerdict(r.verdict)}`);
      expect(results.map((r) => `${r.direction}:${r.verdict.pass}`)).toEqual(['download:true', 'upload:true']);
    }, 90_000);
  }
});
