// The four rules of DESIGN.md with real TCP traffic between namespaces, both directions,
// in the shared mode: each phase's measured rates against the oracle fed with
// policies/demo.yaml as written (not the compiled classes), within 5% of the link per
// container, every busy one at its relative floor, >= 95% utilisation; drops reported.
import { expect, it } from 'vitest';
import { runPhases, sandboxSite } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { describeKernel } from '../support/kernel';
import { builtSandbox } from '../support/sandboxSuite';
import { demoJudge, demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('fr-');
const judge = demoJudge();

describeKernel('the four rules, shared mode, real traffic', [], () => {
  const sandbox = builtSandbox('fr-', policy);

  for (const direction of ['download', 'upload'] as Direction[]) {
    it(`${direction}: lend, priority 0 over 1, share by guarantee, priority, idle share returns`, async () => {
      const compiled = sandbox.compiled();
      const results = await runPhases(sandbox.deps(), compiled, sandboxSite(compiled), { judge, phases: DEMO_PHASES, directions: [direction], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false });
      for (const r of results) console.log(`${r.verdict.pass ? 'PASS' : 'FAIL'} ${direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
      expect(results.map((r) => `${r.phase.name}:${r.verdict.pass}`)).toEqual(DEMO_PHASES.map((p) => `${p.name}:true`));
    }, 120_000);
  }
});
