// serve's ADD path without a kernel: the reload an ADD asks for applies the change before
// its tick, and the ADD's wait ends then, whatever the load or the change did.
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/serve';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import type { Reconciler, TickResult } from '../../src/reconcile/reconciler';
import type { PolicyLoad, PolicyLoader } from '../../src/sources/loader';
import { demoPolicy } from '../support/policy';

/** A reconciler and a loader that write down what serve asked of them, in order. */
function node(loads: () => PolicyLoad = () => ({ ok: true, policy: demoPolicy(), waiting: [], files: [], workloads: [], unshaped: [] })): { daemon: Daemon; events: string[]; gate: { open: () => void } } {
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
      return { durationMs: 0, operations: 1 };
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
  const daemon = new Daemon(reconciler as unknown as Reconciler, loader as unknown as PolicyLoader, systemClock, silentLogger, { paths: [], tickMs: 60_000 });
  return { daemon, events, gate };
}

describe("serve's ADD: the change before the tick", () => {
  it("an ADD's wait ends once the change is applied, before the reload's tick", async () => {
    const { daemon, events, gate } = node();
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
