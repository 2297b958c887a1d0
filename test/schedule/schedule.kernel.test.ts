// schedule: a time window applied by the reconciler on the real kernel, with the clock
// injected: closed → the policy's rates; open (or started in the middle) → the patched
// rates; closed again → back. No waiting for 01:00.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { silentLogger } from '../../src/ports/logger';
import type { Clock } from '../../src/ports/clock';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../../src/policy/load';
import { Reconciler } from '../../src/reconcile/reconciler';
import { describeKernel, removeNamespaces, sh } from '../support/kernel';

const PREFIX = 'sw-';

function policyWithWindow() {
  const rename = (t: string) => t.replace(/name: demo\b/, `name: ${PREFIX}demo`).replace(/\bsl-(host|web|api|batch|backup)\b/g, `sl-${PREFIX}$1`);
  const r = parsePolicyTexts([
    { path: 'demo.yaml', text: rename(readFileSync('policies/demo.yaml', 'utf8')) },
    { path: 'nightly-window.yaml', text: readFileSync('policies/nightly-window.yaml', 'utf8') },
  ]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

class SteppedClock implements Clock {
  constructor(private nowMs: number) {}
  set(iso: string): void {
    this.nowMs = Date.parse(iso);
  }
  now(): number {
    return this.nowMs;
  }
  monotonic(): number {
    return performance.now();
  }
  sleep(): Promise<void> {
    return Promise.resolve();
  }
}

describeKernel('schedule windows on the real kernel (clock injected)', [], () => {
  const policy = policyWithWindow();
  const clock = new SteppedClock(Date.parse('2026-11-23T00:30:00Z'));
  let kernel: RtnlKernel;
  let applier: Applier;
  let reconciler: Reconciler;
  // One record for the daemon and the one restarted after it, as /run/sluice keeps it.
  const store = new MemoryOwnershipStore();

  beforeAll(async () => {
    await removeNamespaces(`sl-${PREFIX}`);
    // As `serve` runs it: following the kernel's change announcements.
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, store, nativeProbe, await detectFeatures());
    reconciler = new Reconciler(applier, clock, silentLogger, { tz: 'UTC' });
    reconciler.setPolicy(policy);
  });

  afterAll(async () => {
    await applier.destroy(policy.host.name, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces(`sl-${PREFIX}`);
  });

  const backupDownload = async (): Promise<string> => {
    const classid = reconciler.current.compiled!.containers.find((c) => c.name === 'backup')!.classes.download!.classid;
    const out = await sh('tc', ['-n', `sl-${PREFIX}host`, 'class', 'show', 'dev', 'sl-br0']);
    const line = out.split('\n').find((l) => l.includes(`1:${(classid & 0xffff).toString(16)} `)) ?? '';
    return /rate (\S+)/.exec(line)?.[1] ?? '?';
  };

  it('schedule: outside the window the policy rates hold; inside, the patch; after, the policy again', async () => {
    expect((await reconciler.tick()).error).toBeUndefined();
    expect(await backupDownload()).toBe('10Mbit');

    clock.set('2026-11-23T01:00:00Z');
    const opened = await reconciler.tick();
    expect(opened.windows.map((w) => w.schedule.name)).toEqual(['nightly-backup']);
    expect(await backupDownload()).toBe('25Mbit');

    clock.set('2026-11-23T03:00:00Z');
    const closed = await reconciler.tick();
    expect(closed.windows).toEqual([]);
    expect(await backupDownload()).toBe('10Mbit');
  });

  it('schedule: a daemon started in the middle of a window applies it at once', async () => {
    clock.set('2026-11-24T02:10:00Z');
    const fresh = new Reconciler(new Applier(kernel, store, nativeProbe, await detectFeatures()), clock, silentLogger, { tz: 'UTC' });
    fresh.setPolicy(policy);
    const first = await fresh.tick();
    expect(first.windows.map((w) => w.schedule.name)).toEqual(['nightly-backup']);
    reconciler = fresh;
    expect(await backupDownload()).toBe('25Mbit');
  });
});
