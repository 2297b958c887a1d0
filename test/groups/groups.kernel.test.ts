// Groups with real TCP traffic, shared mode: every container judged by the hierarchical
// oracle fed from what the test wrote (the draw; never the compiled classes),
// within 3% of the link and at its relative floor, utilisation ≥ 95% of the ideal.
//   - two groups: each rule at group level and inside a group, both directions;
//   - random hierarchical policies: a fixed seed list (CI) plus one random extra, one
//     direction per draw, alternating; every seed printed, SLUICE_SEED=<n>[,<n>…] replays;
//   - negative control: the same harness on the same policy with the group level
//     flattened (the containers under the link) fails.
// Runtime budget: ~4 minutes for the file (measured: see docs/decisions.md, "Groups").
import { describe, expect, it } from 'vitest';
import type { Judge } from '../../src/measure/judge';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { describeKernel, promtoolCheck } from '../support/kernel';
import { runTreePhases, type TreePhase } from '../support/groupsHarness';
import { describeTree, drawTree, parseTreeDraw, seededRandom, type DrawnContainer, type DrawnGroup, type TreeDraw } from '../support/randomTree';
import { sandboxSuite } from '../support/sandboxSuite';
import { seedPlan } from '../support/seeds';
import { treeJudgeOf, writtenFromTreeDraw } from '../support/written';

const PREFIX = 'gk-';

const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const HARNESS = { phaseSeconds: 4, warmupSeconds: 1.5, tolerance: TOLERANCE };
/**
 * A random draw measures 3.5 s, 1 s more than the fixed tests. A busy container held at
 * 2 Mbit/s over 7 flows measured 93–102% of its guarantee over 2.5 s while its class
 * counted ≥ 99% (the window's edges, not the share). But in CI (session 15) seed 22's
 * upload draw had a container at 2.4 Mbit/s over 8 flows measure 89.6% of it over 2.5 s
 * (2.36–2.50 in six other CI runs), under the 90% floor. The edges' share of a window
 * falls with its length. It took 6 s phases while that floor was 95%.
 */
const DRAW_HARNESS = { ...HARNESS, phaseSeconds: 5 };
/** CI's fixed draws: seed, index. Plus one drawn from a random (printed) seed. */
const FIXED_SEEDS = [22, 23, 24, 25, 26];
const DRAWS_PER_SEED = 2;

const M = 1000; // kbit per mbit

/** A fixed two-group policy and the phases (busy containers) that show each rule. */
interface TwoGroups {
  readonly name: string;
  readonly draw: TreeDraw;
  readonly phases: readonly { readonly name: string; readonly busy: readonly string[] }[];
}

const member = (name: string, group: string, guaranteeMbit: number, priority: number): DrawnContainer => ({ name, group, guaranteeKbit: guaranteeMbit * M, ceilingKbit: undefined, priority, flows: 2, busy: false });
const group = (name: string, guaranteeMbit: number, priority: number, ceilingMbit?: number): DrawnGroup => ({ name, parent: undefined, guaranteeKbit: guaranteeMbit * M, ceilingKbit: ceilingMbit === undefined ? undefined : ceilingMbit * M, priority });

const TWO_GROUPS: readonly TwoGroups[] = [
  {
    name: 'shares',
    draw: { index: 0, linkMbit: 100, groups: [group('a', 40, 4), group('b', 20, 4)], containers: [member('a1', 'a', 10, 4), member('a2', 'a', 10, 4), member('a3', 'a', 10, 4), member('b1', 'b', 10, 4), member('b2', 'b', 10, 4)] },
    phases: [
      { name: 'groups split the excess 2:1 by their guarantees, whatever number of members send', busy: ['a1', 'a2', 'a3', 'b1'] },
      { name: "a lone member gets its group's share (what idle members leave stays in the group)", busy: ['a1', 'b1'] },
      { name: 'inside a group, members split its share by their guarantees', busy: ['a1', 'b1', 'b2'] },
    ],
  },
  {
    name: 'priorities',
    draw: { index: 1, linkMbit: 100, groups: [group('a', 40, 2, 70), group('b', 20, 4)], containers: [member('a1', 'a', 10, 4), member('a2', 'a', 10, 6), member('a3', 'a', 10, 4), member('b1', 'b', 10, 0), member('b2', 'b', 10, 0)] },
    phases: [
      { name: "the group's priority orders borrowing between groups, not its members'", busy: ['a2', 'b1'] },
      { name: 'inside a group, member priority first; the group stops at its ceiling', busy: ['a1', 'a2', 'b1'] },
      { name: "a group's ceiling caps its members together; an idle group's guarantee is lent", busy: ['a1', 'a2', 'a3'] },
    ],
  },
];

/** One phase of a draw: who sends, each with the draw's number of flows. */
const phaseOf = (draw: TreeDraw, busy: readonly string[], direction: Direction): TreePhase => ({ direction, busy, flows: new Map(draw.containers.map((c) => [c.name, c.flows])) });

/** The draw as written, judged by the hierarchical oracle (the negative control's too: its policy is flattened, its judge is not). */
const judgeOfDraw = (draw: TreeDraw): Judge => treeJudgeOf(writtenFromTreeDraw(draw));

const plan = seedPlan('SLUICE_SEED', FIXED_SEEDS);
/** DRAWS_PER_SEED draws per fixed (or replayed) seed; the random extra one draw. One direction each, alternating. */
const draws = plan.seeds.flatMap((seed, s) => {
  const r = seededRandom(seed);
  const count = !plan.replay && s === plan.seeds.length - 1 ? 1 : DRAWS_PER_SEED;
  return Array.from({ length: count }, (_, i) => ({ seed, draw: drawTree(r, i, 100), direction: (s * DRAWS_PER_SEED + i) % 2 === 0 ? 'download' : ('upload' as Direction) }));
});

describeKernel('groups: shares at group level and inside groups, real traffic', ['promtool'], () => {
  const suite = sandboxSuite(PREFIX, `groups random policies: ${plan.banner}`);

  describe('groups: two groups, every rule, both directions', () => {
    for (const config of TWO_GROUPS) {
      it(`groups "${config.name}": ${config.phases.map((p) => p.name).join('; ')}`, async () => {
        const policy = parseTreeDraw(config.draw, PREFIX);
        suite.uses(policy);
        const phases = (['download', 'upload'] as const).flatMap((direction) => config.phases.map((p) => phaseOf(config.draw, p.busy, direction)));
        const { verdicts, replanned, snapshot, metrics } = await runTreePhases(suite.deps(), policy, judgeOfDraw(config.draw), phases, HARNESS);
        // Read back from the kernel, the nested trees are what was compiled: applying again does nothing.
        expect(replanned).toEqual([]);
        // Each group's class counted what its members sent: their bytes add up to its own.
        for (const g of snapshot.groups) {
          const members = snapshot.rows.filter((r) => r.group === g.group && r.direction === g.direction).reduce((s, r) => s + r.bytes, 0);
          expect(g.bytes).toBeGreaterThan(0);
          expect(g.bytes).toBe(members);
        }
        expect(await promtoolCheck(metrics)).toEqual({ code: 0, complaints: '' });
        expect(metrics).toMatch(/^sluice_group_bytes_total\{group="a",direction="upload"\} [1-9]/m);
        const names = (['download', 'upload'] as const).flatMap((d) => config.phases.map((p) => `${d} ${p.name}`));
        verdicts.forEach((v, i) => console.log(`groups ${config.name}: ${v.pass ? 'PASS' : 'FAIL'} ${names[i]}\n${formatVerdict(v)}`));
        expect(verdicts.map((v, i) => `${names[i]}: ${v.pass}`)).toEqual(names.map((n) => `${n}: true`));
      }, 180_000);
    }
  });

  describe('groups: random hierarchical policies', () => {
    for (const { seed, draw, direction } of draws) {
      it(`groups seed ${seed} ${direction} ${describeTree(draw)}`, async () => {
        const policy = parseTreeDraw(draw, PREFIX);
        suite.uses(policy);
        const busy = draw.containers.filter((c) => c.busy).map((c) => c.name);
        const { verdicts: [verdict] } = await runTreePhases(suite.deps(), policy, judgeOfDraw(draw), [phaseOf(draw, busy, direction)], DRAW_HARNESS);
        console.log(`groups seed ${seed} ${verdict!.pass ? 'PASS' : 'FAIL'} ${direction} ${describeTree(draw)}\n${formatVerdict(verdict!)}`);
        expect(verdict!.pass).toBe(true);
      }, 90_000);
    }
  });

  describe('groups: negative control', () => {
    it('groups flattened (the same containers under the link) fail the same harness', async () => {
      const config = TWO_GROUPS[1]!;
      const policy = parseTreeDraw(config.draw, PREFIX, true);
      suite.uses(policy);
      const phases = config.phases.slice(0, 2).map((p) => phaseOf(config.draw, p.busy, 'download'));
      const { verdicts } = await runTreePhases(suite.deps(), policy, judgeOfDraw(config.draw), phases, HARNESS);
      verdicts.forEach((v, i) => console.log(`groups negative control (flattened): ${v.pass ? 'PASS' : 'FAIL'} ${config.phases[i]!.name}\n${formatVerdict(v)}`));
      expect(verdicts.map((v) => v.pass)).toEqual([false, false]);
    }, 120_000);
  });
});
