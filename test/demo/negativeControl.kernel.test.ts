// Negative control: the harness that passes Sluice's trees must fail trees that do not
// share correctly, or its passes prove nothing. The same sandbox, traffic and verdict
// (3% of the link, as the random-policy tests judge) with the classifying filters
// removed (everything falls into the default class), or with every class given the same
// quantum (the excess split evenly, not by guarantee).
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { MAX_PACKET_BYTES } from '../../src/compile/htb';
import { INGRESS_MAJOR } from '../../src/compile/trees';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import { makeHandle } from '../../src/tc/handle';
import type { KernelState } from '../../src/tc/model';
import { describeKernel, removeNamespaces } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('nc-');
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const phases = DEMO_PHASES.filter((p) => p.name === 'share' || p.name === 'priority');

/** Keeps the ingress redirect to the IFB (else upload would not reach a tree at all). */
const withoutClassifiers = (s: KernelState): KernelState => ({ ...s, filters: s.filters.filter((f) => f.parent === makeHandle(INGRESS_MAJOR, 0)) });
const withEqualQuanta = (s: KernelState): KernelState => ({
  ...s,
  classes: s.classes.map((c) => (c.spec.kind === 'htb' ? { ...c, spec: { ...c.spec, quantum: MAX_PACKET_BYTES } } : c)),
});

const variants = [
  // No classifier: web, batch and backup share one class, so neither phase holds.
  // Upload: inside that one FIFO TCP alone splits the link, and once landed batch:backup
  // at 64:36, within 3% of the 2:1 share by chance; there one of the two phases must fail.
  { name: 'filters removed', adjust: withoutClassifiers, mustFail: ['share', 'priority'], upload: 'any' },
  // Equal quanta split batch:backup's excess 1:1, not 2:1 (priority is by prio, not quanta).
  { name: 'equal quanta', adjust: withEqualQuanta, mustFail: ['share'], upload: 'all' },
] as const;

describeKernel('negative control: the share harness fails broken trees', [], () => {
  let deps: DemoDeps;
  let kernel: RtnlKernel;

  beforeAll(async () => {
    await removeNamespaces('sl-nc-');
    kernel = new RtnlKernel();
    deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  });

  afterEach(async () => {
    await teardownDemo(deps, policy).catch(() => undefined);
    await removeNamespaces('sl-nc-');
  });

  afterAll(async () => {
    await kernel.close();
  });

  for (const variant of variants) {
    it(`${variant.name}: the harness reports ${variant.mustFail.join(' and ')} as failed (upload: ${variant.upload === 'all' ? 'each' : 'at least one'})`, async () => {
      const compiled = await buildSandbox(deps, policy, () => undefined, { adjust: variant.adjust });
      const results = await runPhases(deps, policy, compiled, sandboxSite(compiled), { phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false, tolerance: TOLERANCE });
      for (const r of results) console.log(`${variant.name}: ${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
      const failed = results.filter((r) => !r.verdict.pass).map((r) => `${r.direction}:${r.phase.name}`);
      expect(failed).toEqual(expect.arrayContaining(variant.mustFail.map((p) => `download:${p}`)));
      const upload = variant.mustFail.filter((p) => failed.includes(`upload:${p}`));
      if (variant.upload === 'all') expect(upload).toEqual([...variant.mustFail]);
      else expect(upload.length).toBeGreaterThan(0);
    }, 120_000);
  }
});
