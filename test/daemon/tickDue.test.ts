// serve's ticks after changes, with the real Reconciler over an Applier without a kernel:
// every change is followed by a tick that reads it, and status's tickDue says whether
// that tick has run (what bench/peers' settled() waits for). Not "a tick started after
// some time": the tick after a burst's last change can start as soon as it is answered.
// And a tick that fails in a way the reconciler does not expect leaves serve ticking.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Daemon, TICK_AFTER_CHANGE_MAX_MS } from '../../src/daemon/serve';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import type { Policy } from '../../src/policy/model';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { PolicyLoad, PolicyLoader } from '../../src/sources/loader';
import { gatedApplier, type GatedApplier } from '../support/gatedApplier';
import { demoPolicy } from '../support/policy';

/** The demo policy with its Host named `name`, to tell which one a tick read. */
const named = (name: string): Policy => demoPolicy((text) => text.replace(/name: demo\b/, `name: ${name}`));

const loadOf = (name: string): PolicyLoad => ({ ok: true, policy: named(name), waiting: [], files: [], workloads: [], unshaped: [] });

interface Node {
  readonly daemon: Daemon;
  readonly reconciler: Reconciler;
  readonly gated: GatedApplier;
  /** What the next load returns. */
  next: PolicyLoad;
}

/** serve over the real Reconciler, its policy 'first', not started (no periodic tick: the tests drive it). */
function node(): Node {
  const gated = gatedApplier();
  // Date.now, not performance.now: the fake timers move it.
  const clock = { ...systemClock, monotonic: () => Date.now() };
  const reconciler = new Reconciler(gated.applier, clock, silentLogger);
  reconciler.setPolicy(named('first'));
  const loader = { load: async (): Promise<PolicyLoad> => n.next };
  const daemon = new Daemon(reconciler, loader as unknown as PolicyLoader, clock, silentLogger, { paths: [], tickMs: 60_000 });
  const n: Node = { daemon, reconciler, gated, next: loadOf('first') };
  return n;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('serve: a tick after every change', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a reload during a running tick is followed by a tick that reads its policy (it shared the running one, and waited for the periodic tick)', async () => {
    const n = node();
    n.gated.hold();
    const running = n.daemon.runTick();
    await settle();
    n.next = loadOf('deleted');
    const reloaded = n.daemon.reloadSoon('cni DEL a');
    await settle();
    expect(n.daemon.tickDue).toBe(true);
    n.gated.open();
    await Promise.all([running, reloaded]);
    expect(n.gated.ticked.map((p) => p.host.name)).toEqual(['first', 'deleted']);
    expect(n.daemon.tickDue).toBe(false);
    await n.daemon.stop();
  });

  it("the tick after a burst's last change can start as it is answered: tickDue, not a tick's start, tells when it has run", async () => {
    vi.useFakeTimers();
    const n = node();
    await n.daemon.runTick();
    // ADDs every 100 ms, then one 5 ms before TICK_AFTER_CHANGE_MAX_MS is up.
    for (let at = 0; at < TICK_AFTER_CHANGE_MAX_MS; at += 100) {
      n.next = loadOf(`pod-${at}`);
      await n.daemon.shapeSoon(`cni ADD ${at}`);
      await vi.advanceTimersByTimeAsync(at + 100 < TICK_AFTER_CHANGE_MAX_MS ? 100 : 95);
    }
    n.next = loadOf('last');
    await n.daemon.shapeSoon('cni ADD last');
    const answeredAt = Date.now();
    expect(n.daemon.tickDue).toBe(true);
    // The bench's clock after the pod: its ADD returns, then its shaped() read.
    await vi.advanceTimersByTimeAsync(20);
    const since = Date.now();
    const lastTick = n.reconciler.current.lastTick!;
    expect(lastTick.at - answeredAt).toBeLessThanOrEqual(5);
    // bench/peers' settled(since) waited for a tick with at >= since: the 60-s periodic one.
    expect(lastTick.at).toBeLessThan(since);
    expect(n.gated.ticked.at(-1)!.host.name).toBe('last');
    expect(n.daemon.tickDue).toBe(false);
    await n.daemon.stop();
  });

  it('a reload that fails sets no policy: no tick is due for it', async () => {
    const n = node();
    await n.daemon.runTick();
    n.next = { ok: false, issues: [], files: [] };
    await n.daemon.shapeSoon('cni ADD a');
    // The ADD is answered inside the reload; status asks after it ends.
    await settle();
    expect(n.daemon.tickDue).toBe(false);
    await n.daemon.stop();
  });

  it('a reload asked for and not started yet keeps the tick due', async () => {
    const n = node();
    await n.daemon.runTick();
    n.gated.hold();
    const running = n.daemon.reload('control socket');
    const queued = n.daemon.reloadSoon('cni DEL b');
    await settle();
    expect(n.daemon.tickDue).toBe(true);
    n.gated.open();
    await Promise.all([running, queued]);
    expect(n.daemon.tickDue).toBe(false);
    await n.daemon.stop();
  });
});

describe('serve: a tick that fails unexpectedly', () => {
  it('is logged as a bug and returned as a failed tick, not a rejection (which would end serve), and the next tick runs', async () => {
    const gated = gatedApplier();
    const logged: { level: string; event: string }[] = [];
    const logger = { log: (level: string, event: string) => void logged.push({ level, event }) };
    const reconciler = new Reconciler(gated.applier, systemClock, silentLogger);
    reconciler.setPolicy(named('first'));
    let fail = true;
    const hooks = {
      onTick: (): void => {
        if (fail) throw new Error('a hook that throws');
      },
    };
    const loader = { load: async (): Promise<PolicyLoad> => loadOf('first') };
    const daemon = new Daemon(reconciler, loader as unknown as PolicyLoader, systemClock, logger, { paths: [], tickMs: 60_000 }, hooks);
    await expect(daemon.runTick()).resolves.toMatchObject({ error: { kind: 'transient', code: 'EINTERNAL', message: 'a hook that throws' } });
    expect(logged.filter((l) => l.level === 'error').map((l) => l.event)).toEqual([expect.stringContaining('tick failed unexpectedly')]);
    fail = false;
    // The gated applier's own failure: the reconciler's result, returned as it was.
    await expect(daemon.runTick()).resolves.toMatchObject({ error: { message: 'the gated applier observes nothing' } });
    expect(logged.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(gated.ticked).toHaveLength(2);
    await daemon.stop();
  });
});
