// A container busy both ways keeps its guarantee: one random draw (seed 24 of
// randomPolicies' drawFromSeed: four containers at 100 Mbit/s, which missed rule 1 or the
// 3% bound in every run before the ACK class, docs/decisions.md "A container busy both
// ways") with every busy container sending both directions at once, each direction judged
// as randomPolicies judges a one-way phase. Then its negative control on the same sandbox:
// the ACK class's u32 nodes deleted by hand with tc, the same load must fail a direction.
// Runtime: ~25 s (the sandbox, two 6.5 s phases).
import { expect, it } from 'vitest';
import { buildSandbox } from '../../src/demo/run';
import { formatVerdict } from '../../src/measure/verdict';
import { ackClassCounts, loadPhase, removeAckNodes, startBothWays } from '../support/bothWays';
import { describeKernel } from '../support/kernel';
import { describeDraw, drawFromSeed, parseDraw } from '../support/randomPolicy';
import { sandboxSuite } from '../support/sandboxSuite';

const PREFIX = 'bw-';
const SEED = 24;
const SECONDS = 5;

describeKernel('a container busy both ways (the ACK class)', [], () => {
  const suite = sandboxSuite(PREFIX, `both ways: seed ${SEED}`);
  const draw = drawFromSeed(SEED, 0);

  it(`seed ${SEED}: ${describeDraw(draw)}: both directions pass with the ACK class, and fail without its nodes`, async () => {
    const policy = suite.uses(parseDraw(draw, PREFIX));
    const compiled = await buildSandbox(suite.deps(), policy, () => undefined);
    const run = await startBothWays(suite.deps(), compiled, draw);
    try {
      const withAcks = await loadPhase(run, ['download', 'upload'], SECONDS);
      const acks = ackClassCounts(compiled);
      for (const [d, v] of withAcks.verdicts) console.log(`seed ${SEED} both ways, ACK class: ${v.pass ? 'PASS' : 'FAIL'} ${d}\n${formatVerdict(v)}`);
      console.log(`seed ${SEED} ACK classes: ${acks.map((a) => `${a.dev} ${a.packets} packets, ${a.dropped} dropped`).join('; ')}`);

      expect(removeAckNodes(compiled)).toBe(4);
      const without = await loadPhase(run, ['download', 'upload'], SECONDS);
      for (const [d, v] of without.verdicts) console.log(`seed ${SEED} both ways, ACK nodes deleted: ${v.pass ? 'PASS' : 'FAIL'} ${d}\n${formatVerdict(v)}`);

      expect([...withAcks.verdicts].map(([d, v]) => `${d}:${v.pass}`)).toEqual(['download:true', 'upload:true']);
      // The class took the ACKs of both devices, and dropped none.
      for (const a of acks) expect({ dev: a.dev, carried: a.packets > 1000, dropped: a.dropped }).toEqual({ dev: a.dev, carried: true, dropped: 0 });
      expect([...without.verdicts].some(([, v]) => !v.pass)).toBe(true);
    } finally {
      await run.rig.stop();
    }
  }, 120_000);
});
