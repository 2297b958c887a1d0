// The Reconciler's tick bookkeeping without a kernel: a tick asked for while one runs
// starts after it (and reads the policy set since), and awaitingTick says whether the
// policy set last has been read by a finished tick.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import type { Policy } from '../../src/policy/model';
import { Reconciler } from '../../src/reconcile/reconciler';
import { gatedApplier } from '../support/gatedApplier';
import { demoPolicy } from '../support/policy';

/** The demo policy with its Host named `name`, to tell which one a tick read. */
const named = (name: string): Policy => demoPolicy((text) => text.replace(/name: demo\b/, `name: ${name}`));
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Reconciler.tick: a tick that starts after the call', () => {
  it('a tick asked for during a running one reads the policy set since (it was handed the running one, whose policy was older)', async () => {
    const gated = gatedApplier();
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(named('before'));
    gated.hold();
    const running = reconciler.tick();
    await settle();
    reconciler.setPolicy(named('after'));
    const asked = reconciler.tick();
    gated.open();
    await Promise.all([running, asked]);
    expect(gated.ticked.map((p) => p.host.name)).toEqual(['before', 'after']);
    expect(reconciler.awaitingTick).toBe(false);
  });

  it('callers during one tick share one more tick, not one each', async () => {
    const gated = gatedApplier();
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(demoPolicy());
    gated.hold();
    const running = reconciler.tick();
    await settle();
    const asked = [reconciler.tick(), reconciler.tick(), reconciler.tick()];
    expect(asked[1]).toBe(asked[0]);
    gated.open();
    await Promise.all([running, ...asked]);
    expect(gated.ticked).toHaveLength(2);
  });

  it('callers before a tick has started (behind a change, or in the same turn) share it: it reads after them', async () => {
    const gated = gatedApplier();
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(demoPolicy());
    const first = reconciler.tick();
    expect(reconciler.tick()).toBe(first);
    await first;
    expect(gated.ticked).toHaveLength(1);
  });
});

describe('Reconciler.awaitingTick', () => {
  it('is set by a new policy and cleared only by a finished tick that read it', async () => {
    const gated = gatedApplier();
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(demoPolicy());
    expect(reconciler.awaitingTick).toBe(true);
    await reconciler.tick();
    expect(reconciler.awaitingTick).toBe(false);
    gated.hold();
    const running = reconciler.tick();
    await settle();
    reconciler.setPolicy(demoPolicy());
    gated.open();
    await running;
    // That tick read the policy before this one.
    expect(reconciler.awaitingTick).toBe(true);
    await reconciler.tick();
    expect(reconciler.awaitingTick).toBe(false);
  });

  it('a change applied without observing leaves the tick due', async () => {
    const gated = gatedApplier();
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(demoPolicy());
    await reconciler.tick();
    reconciler.setPolicy(demoPolicy());
    expect((await reconciler.applyChange()).operations).toBe(0);
    expect(reconciler.awaitingTick).toBe(true);
  });
});
