// serve's ADD path without a kernel: the reload an ADD asks for applies the change before
// its tick, and the ADD's wait ends then, whatever the load or the change did. A change
// the kernel took leaves the tick to one after the burst of ADDs (TICK_AFTER_CHANGE_MS).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Daemon, TICK_AFTER_CHANGE_MAX_MS, TICK_AFTER_CHANGE_MS } from '../../src/daemon/serve';
import type { ChangeResult } from '../../src/reconcile/reconciler';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import type { Reconciler, TickResult } from '../../src/reconcile/reconciler';
import type { PolicyLoad, PolicyLoader } from '../../src/sources/loader';
import { demoPolicy } from '../support/policy';

/** A reconciler and a loader that write down what serve asked of them, in order. */
function node(
  loads: () => PolicyLoad = () => ({ ok: true, policy: demoPolicy(), waiting: [], files: [], workloads: [], unshaped: [] }),
  changes: () => ChangeResult = () => ({ durationMs: 0, operations: 1 }),
): { daemon: Daemon; events: string[]; gate: { open: () => void } } {
  const events: string[] = [];
  let open = (): void => undefined;
  let opened = new Promise<void>((resolve) => (open = resolve));
  const gate = {
    open: () => {
      open();
      opened = Promise.resolve();
    },
  };
  const tick: TickResult = { at: 0, durationMs: 0, operations: 0, driftRepairs: 0, windows: [] };
  const reconciler = {
    setPolicy: () => events.push('setPolicy'),
    applyChange: async () => {
      events.push('change');
      return changes();
    },
    tick: async () => {
      await opened;
      events.push('tick');
      return tick;
    },
    current: {},
  };
  const loader = {
    load: async () => {
      events.push('load');
      return loads();
    },
  };
  // Date.now, not performance.now: the fake timers move it.
  const clock = { ...systemClock, monotonic: () => Date.now() };
  const daemon = new Daemon(reconciler as unknown as Reconciler, loader as unknown as PolicyLoader, clock, silentLogger, { paths: [], tickMs: 60_000 });
  return { daemon, events, gate };
}

describe("serve's ADD: the change before the tick", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an ADD's wait ends once the change is applied; the tick follows the burst, not the reload", async () => {
    vi.useFakeTimers();
    const { daemon, events, gate } = node();
    gate.open();
    await daemon.shapeSoon('cni ADD a');
    events.push('answered');
    await daemon.shapeSoon('cni ADD b');
    events.push('answered');
    // Back to back: the second change waited for no tick.
    expect(events).toEqual(['load', 'setPolicy', 'change', 'answered', 'load', 'setPolicy', 'change', 'answered']);
    await vi.advanceTimersByTimeAsync(TICK_AFTER_CHANGE_MS);
    expect(events.filter((e) => e === 'tick')).toHaveLength(1);
    await daemon.stop();
  });

  it('changes that keep coming still get a tick within TICK_AFTER_CHANGE_MAX_MS of the first', async () => {
    vi.useFakeTimers();
    const { daemon, events, gate } = node();
    gate.open();
    for (let waited = 0; waited <= TICK_AFTER_CHANGE_MAX_MS; waited += TICK_AFTER_CHANGE_MS / 2) {
      await daemon.shapeSoon(`cni ADD ${waited}`);
      await vi.advanceTimersByTimeAsync(TICK_AFTER_CHANGE_MS / 2);
    }
    expect(events.filter((e) => e === 'tick').length).toBeGreaterThanOrEqual(1);
    await daemon.stop();
  });

  it('a change that was skipped or refused is followed by the reload\'s own tick, as before', async () => {
    for (const result of [{ durationMs: 0, operations: 0, skipped: 'no apply to build on' }, { durationMs: 0, operations: 0, error: 'EEXIST' }]) {
      const { daemon, events, gate } = node(undefined, () => result);
      gate.open();
      await daemon.shapeSoon('cni ADD a');
      await daemon.reloadSoon('after');
      expect(events.slice(0, 4)).toEqual(['load', 'setPolicy', 'change', 'tick']);
    }
  });

  it("an ADD's wait does not include the reload's tick", async () => {
    const { daemon, events, gate } = node(undefined, () => ({ durationMs: 0, operations: 0, skipped: 'no apply to build on' }));
    await daemon.shapeSoon('cni ADD a');
    events.push('answered');
    gate.open();
    await daemon.reloadSoon('after');
    expect(events.slice(0, 5)).toEqual(['load', 'setPolicy', 'change', 'answered', 'tick']);
  });

  it('ADDs that arrive before their reload starts share it: one load, one change', async () => {
    const { daemon, events, gate } = node();
    const first = daemon.shapeSoon('cni ADD a');
    const later = [daemon.shapeSoon('cni ADD b'), daemon.shapeSoon('cni ADD c')];
    await first;
    gate.open();
    await Promise.all(later);
    expect(events.filter((e) => e === 'load')).toHaveLength(1);
    expect(events.filter((e) => e === 'change')).toHaveLength(1);
    await daemon.stop();
  });

  it('a reload asked for without an ADD (DEL, GC, files) applies no change before its tick', async () => {
    const { daemon, events, gate } = node();
    gate.open();
    await daemon.reloadSoon('cni DEL a');
    expect(events).toEqual(['load', 'setPolicy', 'tick']);
  });

  it('a load that fails still ends the wait (the ADD is answered; nothing changes)', async () => {
    const { daemon, events } = node(() => ({ ok: false, issues: [], files: [] }));
    await daemon.shapeSoon('cni ADD a');
    expect(events).toEqual(['load']);
  });
});
