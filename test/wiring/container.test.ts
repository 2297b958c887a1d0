import { describe, expect, it } from 'vitest';
import type { NamespaceProbe } from '../../src/apply/applier';
import type { KernelFeatures } from '../../src/compile';
import { BASELINE_FEATURES } from '../../src/tc/features';
import type { ExecutionReport, KernelPort, ObserveScope } from '../../src/kernel/port';
import type { Plan } from '../../src/tc/operation';
import type { Reconciler } from '../../src/reconcile/reconciler';
import { emptyKernelState, type ObservedState } from '../../src/tc/model';
import { buildContainer } from '../../src/wiring/container';
import { MemoryOwnershipStore, type OwnershipStore } from '../../src/ports/ownership';
import { TOKENS } from '../../src/wiring/tokens';
import type { Clock } from '../../src/ports/clock';
import { demoPolicy } from '../support/policy';

/** Records what the reconciler asks of the kernel; the kernel is always empty. */
class RecordingKernel implements KernelPort {
  readonly observed: ObserveScope[] = [];
  readonly executed: Plan[] = [];
  async observe(scope: ObserveScope): Promise<ObservedState> {
    this.observed.push(scope);
    return { ...emptyKernelState(), stats: new Map() };
  }
  async execute(plan: Plan): Promise<ExecutionReport> {
    this.executed.push(plan);
    return { applied: plan, skipped: [] };
  }
  release(): void {}
  async close(): Promise<void> {}
}

const steppedClock = (now: number): Clock => ({ now: () => now, monotonic: () => 5, sleep: async () => undefined });

describe('the composition root', () => {
  it('wires the reconciler to the clock and kernel port a test rebinds', async () => {
    const container = buildContainer();
    const kernel = new RecordingKernel();
    container.rebindSync<KernelPort>(TOKENS.KernelPort).toConstantValue(kernel);
    container.rebindSync<Clock>(TOKENS.Clock).toConstantValue(steppedClock(Date.UTC(2026, 0, 1)));
    container.rebindSync<KernelFeatures>(TOKENS.Features).toConstantValue(BASELINE_FEATURES);
    container.rebindSync<NamespaceProbe>(TOKENS.NamespaceProbe).toConstantValue({ exists: () => false, readSysctl: () => undefined });
    container.rebindSync<OwnershipStore>(TOKENS.OwnershipStore).toConstantValue(new MemoryOwnershipStore());

    const reconciler = await container.getAsync<Reconciler>(TOKENS.Reconciler);
    reconciler.setPolicy(demoPolicy());
    const result = await reconciler.tick();

    expect(result.at).toBe(Date.UTC(2026, 0, 1));
    expect(result.durationMs).toBe(0);
    expect(kernel.observed.length).toBeGreaterThan(0);
    expect(kernel.executed.flat().length).toBe(result.operations);
    expect(result.operations).toBeGreaterThan(0);
    // One of each per container: the daemon, metrics and commands share them.
    expect(await container.getAsync(TOKENS.Reconciler)).toBe(reconciler);
  });

  it('opens no kernel for what does not need one (loading a policy)', async () => {
    const container = buildContainer({ paths: ['policies/demo.yaml'] });
    container.rebindSync<KernelPort>(TOKENS.KernelPort).toDynamicValue(() => {
      throw new Error('the kernel was opened');
    });
    const loaded = await container.get<{ load(): Promise<{ ok: boolean }> }>(TOKENS.PolicyLoader).load();
    expect(loaded.ok).toBe(true);
  });
});
