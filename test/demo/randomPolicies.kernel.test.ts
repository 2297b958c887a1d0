// Random policies with real TCP traffic, shared mode, both directions: each draw (see
// test/support/randomPolicy.ts) is applied to a fresh sandbox, its busy containers send
// with their own number of flows, and every container is judged against the oracle fed
// with the draw itself (not the compiled classes, nor even the policy text made of it),
// within 3% of the link and at its relative floor, utilisation >= 95% of what the oracle
// hands out. Seeded: one draw per seed, a fixed list (10 draws, 3 of them at 1 Gbit/s)
// plus one random extra, every seed printed; SLUICE_SEED=<seed>[,<seed>…] replays.
// Runtime: ~11 s per draw (two 4 s phases and the sandbox), ~2 min in all.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import type { Policy } from '../../src/policy/model';
import { describeKernel, removeNamespaces } from '../support/kernel';
import { describeDraw, drawFromSeed, parseDraw } from '../support/randomPolicy';
import { seedPlan } from '../support/seeds';
import { judgeOf, writtenFromDraw } from '../support/written';

const PREFIX = 'rp-';
/** Seeds 1–10: sizes 3–6, 1–8 flows, ceilings, equal priorities, three draws at 1 Gbit/s. */
const FIXED_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };

const plan = seedPlan('SLUICE_SEED', FIXED_SEEDS);
const draws = plan.seeds.map((seed, i) => ({ seed, draw: drawFromSeed(seed, i) }));

describeKernel('random policies, shared mode, real traffic', [], () => {
  let deps: DemoDeps;
  let kernel: RtnlKernel;
  let current: Policy | undefined;

  beforeAll(async () => {
    console.log(`random policies: ${plan.banner}`);
    await removeNamespaces(`sl-${PREFIX}`);
    kernel = new RtnlKernel();
    deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  });

  afterEach(async () => {
    if (current) await teardownDemo(deps, current).catch(() => undefined);
    current = undefined;
    await removeNamespaces(`sl-${PREFIX}`);
  });

  afterAll(async () => {
    await kernel.close();
    await removeNamespaces(`sl-${PREFIX}`);
  });

  for (const { seed, draw } of draws) {
    it(`seed ${seed}: draw ${describeDraw(draw)}`, async () => {
      const policy = parseDraw(draw, PREFIX);
      current = policy;
      const compiled = await buildSandbox(deps, policy, () => undefined);
      const site = sandboxSite(compiled);
      const byName = new Map(draw.containers.map((c) => [c.name, c]));
      // Idle containers need no sender: they are judged against an ideal of 0.
      const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
      const containers = site.containers.filter((c) => byName.get(c.name)!.busy).map((c) => ({ ...c, flows: byName.get(c.name)!.flows }));
      const results = await runPhases(deps, compiled, { ...site, containers }, {
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
