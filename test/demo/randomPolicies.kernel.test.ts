// Random policies with real TCP traffic, shared mode, both directions: each draw (see
// test/support/randomPolicy.ts) is applied to a fresh sandbox, its busy containers send
// with their own number of flows, and every container is judged against the oracle
// within 3% of the link, utilisation >= 95% of what the oracle hands out. Seeded:
// SLUICE_SEED=<n> replays a run; without it the seed is random and printed.
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
import { describeDraw, drawPolicy, parseDraw, seededRandom, type RandomDraw } from '../support/randomPolicy';

const PREFIX = 'rp-';
const DRAWS = 10;
/** Draws 0 and 5 run at 1 Gbit/s, the rest at 100 Mbit/s. */
const linkOf = (i: number): number => (i % 5 === 0 ? 1000 : 100);
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };

const seed = process.env['SLUICE_SEED'] !== undefined ? Number(process.env['SLUICE_SEED']) : Math.floor(Math.random() * 2 ** 31);
const random = seededRandom(seed);
const draws: RandomDraw[] = Array.from({ length: DRAWS }, (_, i) => drawPolicy(random, i, linkOf(i)));

describeKernel('random policies, shared mode, real traffic', [], () => {
  let deps: DemoDeps;
  let kernel: RtnlKernel;
  let current: Policy | undefined;

  beforeAll(async () => {
    console.log(`random policies: seed ${seed} (SLUICE_SEED=${seed} replays this run)`);
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

  for (const draw of draws) {
    it(`draw ${describeDraw(draw)}`, async () => {
      const policy = parseDraw(draw, PREFIX);
      current = policy;
      const compiled = await buildSandbox(deps, policy, () => undefined);
      const site = sandboxSite(compiled);
      const byName = new Map(draw.containers.map((c) => [c.name, c]));
      // Idle containers need no sender: they are judged against an ideal of 0.
      const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
      const containers = site.containers.filter((c) => byName.get(c.name)!.busy).map((c) => ({ ...c, flows: byName.get(c.name)!.flows }));
      const results = await runPhases(deps, policy, compiled, { ...site, containers }, {
        phases: [{ name: `draw-${draw.index}`, shows: 'random policy', active: busy }],
        directions: ['download', 'upload'],
        phaseSeconds: 4,
        warmupSeconds: 1.5,
        out: () => undefined,
        live: false,
        tolerance: TOLERANCE,
      });
      for (const r of results) console.log(`seed ${seed} ${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.direction} ${describeDraw(draw)}\n${formatVerdict(r.verdict)}`);
      expect(results.map((r) => `${r.direction}:${r.verdict.pass}`)).toEqual(['download:true', 'upload:true']);
    }, 90_000);
  }
});
