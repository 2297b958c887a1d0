// Negative control: the harness that passes Sluice's trees must fail trees that do not
// share correctly, or its passes prove nothing. The same sandbox, traffic and verdict
// (3% of the link, as the random-policy tests judge, against policies/demo.yaml as
// written) with the classifying filters removed (everything falls into the default
// class), every class given the same quantum (the excess split evenly, not by
// guarantee), web's and api's classes swapped (priority 0 and 1 trade places), or every
// guarantee halved by a bug before compile (the kernel and the compiled classes agree
// with each other, not with what was written). Runtime: ~75 s.
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { allocate } from '../../src/allocate/oracle';
import type { CompiledPolicy } from '../../src/compile';
import { MAX_PACKET_BYTES } from '../../src/compile/htb';
import { INGRESS_MAJOR } from '../../src/compile/trees';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps, type PhaseResult } from '../../src/demo/run';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict, judgeAllocation } from '../../src/measure/verdict';
import type { Policy } from '../../src/policy/model';
import { makeHandle } from '../../src/tc/handle';
import type { ClassObject, KernelState } from '../../src/tc/model';
import { bitsPerSec } from '../../src/units/units';
import { describeKernel, removeNamespaces } from '../support/kernel';
import { demoJudge, demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('nc-');
const judge = demoJudge();
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const phasesNamed = (...names: string[]) => DEMO_PHASES.filter((p) => names.includes(p.name));

/** Keeps the ingress redirect to the IFB (else upload would not reach a tree at all). */
const withoutClassifiers = (s: KernelState): KernelState => ({ ...s, filters: s.filters.filter((f) => f.parent === makeHandle(INGRESS_MAJOR, 0)) });
const withEqualQuanta = (s: KernelState): KernelState => ({
  ...s,
  classes: s.classes.map((c) => (c.spec.kind === 'htb' ? { ...c, spec: { ...c.spec, quantum: MAX_PACKET_BYTES } } : c)),
});

/** On each tree, web's class (30 mbit, priority 0) takes api's settings (20 mbit, priority 1) and api's web's. */
function withWebAndApiSwapped(s: KernelState): KernelState {
  const on = (dev: string, rate: number, prio: number): ClassObject | undefined => s.classes.find((c) => c.dev === dev && c.spec.kind === 'htb' && c.spec.rate === rate && c.spec.prio === prio);
  const swap = new Map<ClassObject, ClassObject>();
  for (const dev of new Set(s.classes.map((c) => c.dev))) {
    const web = on(dev, 30e6, 0);
    const api = on(dev, 20e6, 1);
    if (!web || !api) throw new Error(`no web and api classes on ${dev} to swap`);
    swap.set(web, { ...web, spec: api.spec }).set(api, { ...api, spec: web.spec });
  }
  return { ...s, classes: s.classes.map((c) => swap.get(c) ?? c) };
}

/** The demo policy as a unit or overcommit-scaling bug would hand it to compile: every guarantee halved. */
const halvedGuarantees: Policy = {
  ...policy,
  containers: policy.containers.map((c) => ({
    ...c,
    bandwidth: {
      download: { ...c.bandwidth.download, guarantee: bitsPerSec(c.bandwidth.download.guarantee / 2) },
      upload: { ...c.bandwidth.upload, guarantee: bitsPerSec(c.bandwidth.upload.guarantee / 2) },
    },
  })),
};

interface Variant {
  readonly name: string;
  readonly phases: ReturnType<typeof phasesNamed>;
  /** What is applied: the demo policy, bent. */
  readonly policy?: Policy;
  readonly adjust?: (s: KernelState) => KernelState;
  readonly mustFail: readonly string[];
  /** Upload: every phase of mustFail fails, or at least one. */
  readonly upload: 'all' | 'any';
}

const variants: readonly Variant[] = [
  // No classifier: web, batch and backup share one class, so neither phase holds.
  // Upload: inside that one FIFO TCP alone splits the link, and once landed batch:backup
  // at 64:36, within 3% of the 2:1 share by chance; there one of the two phases must fail.
  { name: 'filters removed', phases: phasesNamed('share', 'priority'), adjust: withoutClassifiers, mustFail: ['share', 'priority'], upload: 'any' },
  // Equal quanta split batch:backup's excess 1:1, not 2:1 (priority is by prio, not quanta).
  { name: 'equal quanta', phases: phasesNamed('share', 'priority'), adjust: withEqualQuanta, mustFail: ['share'], upload: 'all' },
  // web gets api's 20 mbit and priority 1 against api at priority 0: 20:80 where 80:20 is due.
  { name: 'web and api classes swapped', phases: phasesNamed('rank'), adjust: withWebAndApiSwapped, mustFail: ['rank'], upload: 'all' },
  // The kernel gives web 85 and batch 10 where what was written makes it 70 and 20. An
  // oracle fed from the compiled classes (halved too) would call it right.
  { name: 'guarantees halved before compile', phases: phasesNamed('priority'), policy: halvedGuarantees, mustFail: ['priority'], upload: 'all' },
];

/** The same measurements judged the way #27 found the judges: from the compiled classes. */
function judgedByCompiledClasses(r: PhaseResult, compiled: CompiledPolicy): boolean {
  const capacity = r.verdict.capacity;
  const containers = compiled.containers.flatMap((c) => {
    const cls = c.classes[r.direction];
    return cls ? [{ id: c.name, guarantee: cls.guarantee, ceiling: cls.ceiling, priority: cls.priority, demand: bitsPerSec(r.phase.active.includes(c.name) ? capacity * 2 : 0) }] : [];
  });
  const measuredGoodput = new Map(r.verdict.containers.map((c) => [c.id, c.measuredGoodput]));
  return judgeAllocation({ capacity, containers, measuredGoodput, tolerance: TOLERANCE }, allocate).pass;
}

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
      const compiled = await buildSandbox(deps, variant.policy ?? policy, () => undefined, variant.adjust ? { adjust: variant.adjust } : undefined);
      const results = await runPhases(deps, compiled, sandboxSite(compiled), { judge, phases: variant.phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false, tolerance: TOLERANCE });
      for (const r of results) {
        const old = variant.policy ? ` (judged from the compiled classes: ${judgedByCompiledClasses(r, compiled) ? 'PASS' : 'FAIL'})` : '';
        console.log(`${variant.name}: ${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.direction} ${r.phase.name}${old}\n${formatVerdict(r.verdict)}`);
      }
      const failed = results.filter((r) => !r.verdict.pass).map((r) => `${r.direction}:${r.phase.name}`);
      expect(failed).toEqual(expect.arrayContaining(variant.mustFail.map((p) => `download:${p}`)));
      const upload = variant.mustFail.filter((p) => failed.includes(`upload:${p}`));
      if (variant.upload === 'all') expect(upload).toEqual([...variant.mustFail]);
      else expect(upload.length).toBeGreaterThan(0);
    }, 120_000);
  }
});
