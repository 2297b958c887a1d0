// Applier.applyChange against an in-memory kernel that does what a plan says: a pod's
// objects made without observing, the record ahead of them, and every case where it
// must send nothing and leave the pod to the tick.
import { describe, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { createdObjects } from '../../src/apply/ownership';
import { recordedOwnership } from '../../src/apply/record';
import { KernelError } from '../../src/errors';
import type { ExecutionReport, KernelPort } from '../../src/kernel/port';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import type { Policy } from '../../src/policy/model';
import { objectKey } from '../../src/tc/identity';
import type { KernelObject, ObservedState } from '../../src/tc/model';
import { BASELINE_FEATURES } from '../../src/tc/features';
import type { Plan } from '../../src/tc/operation';
import { demoPolicy } from '../support/policy';

/** Holds what the plans made; refuses the operations `refuse` picks (as EEXIST). */
class MemoryKernel implements KernelPort {
  readonly objects = new Map<string, KernelObject>();
  readonly executed: Plan[] = [];
  refuse: (o: KernelObject) => boolean = () => false;

  observe(): Promise<ObservedState> {
    const all = [...this.objects.values()];
    const of = <T extends KernelObject['type']>(type: T) => all.filter((o): o is Extract<KernelObject, { type: T }> => o.type === type);
    return Promise.resolve({ namespaces: of('namespace'), links: of('link'), addresses: of('address'), routes: of('route'), sysctls: of('sysctl'), qdiscs: of('qdisc'), classes: of('class'), filters: of('filter'), cgroups: of('cgroup-classid'), stats: new Map() });
  }

  execute(plan: Plan): Promise<ExecutionReport> {
    this.executed.push(plan);
    for (let i = 0; i < plan.length; i++) {
      const op = plan[i]!;
      if (this.refuse(op.object)) return Promise.resolve({ applied: plan.slice(0, i), failed: { operation: op, error: new KernelError(17, 'EEXIST', 'refused', op.op, '-', 'exists') }, skipped: plan.slice(i + 1) });
      if (op.op === 'delete') this.objects.delete(objectKey(op.object));
      else for (const o of op.op === 'create' ? withImplied(op.object) : [op.object]) this.objects.set(objectKey(o), o);
    }
    return Promise.resolve({ applied: plan, skipped: [] });
  }

  release(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A veth's peer comes with it, a namespace's lo with the namespace (up: the executor brings it up). */
function withImplied(o: KernelObject): KernelObject[] {
  if (o.type === 'namespace') return [o, { type: 'link', netns: o.name, name: 'lo', up: true, spec: { kind: 'external' } }];
  return createdObjects([{ op: 'create', object: o }]);
}

const full = demoPolicy();
const without = (name: string): Policy => ({ ...full, containers: full.containers.filter((c) => c.name !== name) });

function setup(): { kernel: MemoryKernel; store: MemoryOwnershipStore; applier: Applier } {
  const kernel = new MemoryKernel();
  const store = new MemoryOwnershipStore();
  // Sysctls are read through the probe, not observed: the values the plans set.
  const readSysctl = (netns: string, key: string): string | undefined => {
    const found = [...kernel.objects.values()].find((o) => o.type === 'sysctl' && o.netns === netns && o.key === key);
    return found?.type === 'sysctl' ? found.value : undefined;
  };
  return { kernel, store, applier: new Applier(kernel, store, { exists: () => true, readSysctl }, BASELINE_FEATURES) };
}

describe('Applier.applyChange (a change applied without observing)', () => {
  it("makes the new workload's objects, recorded ahead, once per apply, and a full apply after it finds nothing to do", async () => {
    const { kernel, store, applier } = setup();
    expect((await applier.apply(without('batch'))).report.failed).toBeUndefined();
    const before = new Map(kernel.objects);
    const outcome = await applier.applyChange(full);
    if (outcome.kind !== 'applied') throw new Error(outcome.reason);
    expect(outcome.report.failed).toBeUndefined();
    expect(outcome.plan.every((op) => op.op !== 'delete')).toBe(true);
    // The classes and filters of batch exist now; nothing that was there is gone.
    expect([...kernel.objects.keys()].some((k) => k.includes('sl-batch'))).toBe(true);
    for (const k of before.keys()) expect(kernel.objects.has(k)).toBe(true);
    const recorded = JSON.stringify(await store.read(full.host.name));
    expect(recorded).toContain('sl-batch');
    // The change is the next one's base: the same policy again is nothing to do.
    expect(await applier.applyChange(full)).toEqual({ kind: 'applied', plan: [], report: { applied: [], skipped: [] } });
    // The tick that follows observes and diffs: the change left nothing for it.
    expect((await applier.apply(full)).plan).toEqual([]);
  });

  it('changes chain: each builds on the desired state the one before it left, moves none of its objects, and a full apply after them finds nothing to do', async () => {
    const { kernel, applier } = setup();
    const names = full.containers.map((c) => c.name);
    const only = (n: number): Policy => ({ ...full, containers: full.containers.filter((c) => names.indexOf(c.name) < n) });
    expect((await applier.apply(only(1))).report.failed).toBeUndefined();
    for (let n = 2; n <= names.length; n++) {
      const before = new Map(kernel.objects);
      const outcome = await applier.applyChange(only(n));
      if (outcome.kind !== 'applied') throw new Error(`change ${n}: ${outcome.reason}`);
      expect(outcome.report.failed).toBeUndefined();
      // Every object an earlier change made is where it was: only the new workload's are created.
      expect(outcome.plan.filter((op) => op.op === 'create' && before.has(objectKey(op.object)))).toEqual([]);
      expect([...kernel.objects.keys()].some((k) => k.includes(`sl-${names[n - 1]}`))).toBe(true);
    }
    expect(kernel.executed.length).toBe(names.length);
    expect((await applier.apply(full)).plan).toEqual([]);
  });

  it('plans the same against a base indexed after the last answer or tick as against one indexed on its path', async () => {
    const names = full.containers.map((c) => c.name);
    const only = (n: number): Policy => ({ ...full, containers: full.containers.filter((c) => names.indexOf(c.name) < n) });
    /** Changes, with a tick after every other one; `settle` after each call: the immediates that index the base run there. */
    const run = async (settle: () => Promise<void>): Promise<{ plans: Plan[]; executed: Plan[] }> => {
      const { kernel, applier } = setup();
      const plans: Plan[] = [];
      plans.push((await applier.apply(only(1))).plan);
      await settle();
      for (let n = 2; n <= names.length; n++) {
        const outcome = await applier.applyChange(only(n));
        if (outcome.kind !== 'applied') throw new Error(`change ${n}: ${outcome.reason}`);
        plans.push(outcome.plan);
        await settle();
        if (n % 2 === 0) {
          plans.push((await applier.apply(only(n))).plan);
          await settle();
        }
      }
      return { plans, executed: kernel.executed };
    };
    const indexed = await run(() => new Promise((resolve) => setImmediate(resolve)));
    // Only promises the in-memory ports resolved at once in between: no immediate runs until it ends.
    const onPath = await run(() => Promise.resolve());
    expect(indexed.plans).toEqual(onPath.plans);
    expect(indexed.executed).toEqual(onPath.executed);
  });

  it('sends nothing before a first apply, in per-device mode, or for a change that removes a workload', async () => {
    const { kernel, applier } = setup();
    expect(await applier.applyChange(full)).toMatchObject({ kind: 'skipped', reason: 'no apply to build on' });
    await applier.apply(full);
    const perDevice: Policy = { ...full, host: { ...full.host, mode: 'per-device' } };
    expect(await applier.applyChange(perDevice)).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/per-device/) });
    expect(await applier.applyChange(without('batch'))).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/removes/) });
    expect(kernel.executed).toHaveLength(1);
  });

  it('a refusal keeps only what was made in the record, and no further change is applied until an apply observes again', async () => {
    const { kernel, store, applier } = setup();
    await applier.apply(without('batch'));
    // The first new class meets an object that is not Sluice's (EEXIST: unseen, since nothing observed).
    kernel.refuse = (o) => o.type === 'class' && !kernel.objects.has(objectKey(o));
    const outcome = await applier.applyChange(full);
    if (outcome.kind !== 'applied') throw new Error(outcome.reason);
    const refused = outcome.report.failed?.operation.object;
    expect(refused?.type).toBe('class');
    const recorded = recordedOwnership(await store.read(full.host.name))?.keys;
    expect(recorded?.has(objectKey(refused!))).toBe(false);
    for (const op of outcome.report.applied) if (op.op === 'create' && op.object.type !== 'namespace') expect(recorded?.has(objectKey(op.object))).toBe(true);
    expect(await applier.applyChange(full)).toMatchObject({ kind: 'skipped', reason: 'no apply to build on' });
    // The tick's apply (which observes) converges, and the base is known again.
    kernel.refuse = () => false;
    expect((await applier.apply(full)).report.failed).toBeUndefined();
    expect((await applier.apply(full)).plan).toEqual([]);
    expect(await applier.applyChange(full)).toEqual({ kind: 'applied', plan: [], report: { applied: [], skipped: [] } });
  });

  it('after an apply that added a workload, the change builds on what that apply left, not on what it saw before', async () => {
    const { applier } = setup();
    const only = (...names: string[]): Policy => ({ ...full, containers: full.containers.filter((c) => names.includes(c.name)) });
    await applier.apply(only('web', 'backup'));
    // A tick adds api: the observation it compiled against has no api in it.
    expect((await applier.apply(only('web', 'api', 'backup'))).plan.length).toBeGreaterThan(0);
    const outcome = await applier.applyChange(full);
    if (outcome.kind !== 'applied') throw new Error(outcome.reason);
    expect(outcome.plan.filter((op) => op.op !== 'create' && JSON.stringify(op.object).includes('"sl-api"'))).toEqual([]);
    expect((await applier.apply(full)).plan).toEqual([]);
  });
});
