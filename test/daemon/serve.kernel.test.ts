// serve: policy files reloaded on change and on SIGHUP; a bad file is reported and the
// last good policy stays in force.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import { policyLoader } from '../support/sources';
import { Daemon } from '../../src/daemon/serve';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { loadPolicyFromPaths } from '../../src/sources/files/read';
import { Reconciler } from '../../src/reconcile/reconciler';
import { describeKernel, removeNamespaces, sh, until } from '../support/kernel';

const dir = mkdtempSync(join(tmpdir(), 'sl-serve-'));
const file = join(dir, 'demo.yaml');
const base = readFileSync('policies/demo.yaml', 'utf8').replace(/name: demo\b/, 'name: rl-demo').replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-rl-$1');
const withBackup = (rate: string): string => base.replace('download: { guarantee: 10mbit, priority: 2 }', `download: { guarantee: ${rate}, priority: 2 }`);

describeKernel('serve: reloads', [], () => {
  let kernel: RtnlKernel;
  let applier: Applier;
  let daemon: Daemon;
  let reconciler: Reconciler;
  let reloadFailures = 0;
  let ticks = 0;
  /** Resolves once `n` more ticks have run: the reconciler has acted on whatever policy is in force. */
  const ticksPass = async (n: number): Promise<void> => {
    const from = ticks;
    await until(`${n} reconcile ticks`, () => ticks >= from + n);
  };

  const backupRate = async (): Promise<string> => {
    const classid = reconciler.current.compiled!.containers.find((c) => c.name === 'backup')!.classes.download!.classid;
    const out = await sh('tc', ['-n', 'sl-rl-host', 'class', 'show', 'dev', 'sl-br0']);
    return /rate (\S+)/.exec(out.split('\n').find((l) => l.includes(`1:${(classid & 0xffff).toString(16)} `)) ?? '')?.[1] ?? '?';
  };
  const eventually = async (want: string): Promise<string> => {
    let got = '';
    await until(`backup's class at ${want}`, async () => (got = await backupRate()) === want, 4000, 100).catch(() => undefined);
    return got;
  };

  beforeAll(async () => {
    await removeNamespaces('sl-rl-');
    writeFileSync(file, withBackup('10mbit'));
    // As `serve` runs it: following the kernel's change announcements.
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
    reconciler = new Reconciler(applier, systemClock, silentLogger);
    daemon = new Daemon(reconciler, policyLoader([dir]), systemClock, silentLogger, { paths: [dir], tickMs: 300 }, { onReloadFailure: () => reloadFailures++, onTick: () => ticks++ });
    const loaded = await loadPolicyFromPaths([dir]);
    if (!loaded.ok) throw new Error('policy');
    await daemon.start(loaded.policy);
  });

  afterAll(async () => {
    await daemon.stop();
    const loaded = await loadPolicyFromPaths([dir]);
    if (loaded.ok) await applier.destroy(loaded.policy.host.name, loaded.policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces('sl-rl-');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a changed file is reloaded and applied; a bad one is reported and the last good policy stays', async () => {
    expect(await backupRate()).toBe('10Mbit');
    writeFileSync(file, withBackup('15mbit'));
    expect(await eventually('15Mbit')).toBe('15Mbit');
    writeFileSync(file, withBackup('15mbps'));
    await until('the bad file reported', () => reloadFailures > 0, 5000);
    // Ticks after the refused reload still apply the last good policy.
    await ticksPass(2);
    expect(await backupRate()).toBe('15Mbit');
  });

  it('SIGHUP reloads', async () => {
    daemon.stopWatching();
    writeFileSync(file, withBackup('12mbit'));
    // Not watched any more: ticks go on, and the change waits for SIGHUP.
    await ticksPass(2);
    expect(await backupRate()).toBe('15Mbit');
    process.emit('SIGHUP', 'SIGHUP');
    expect(await eventually('12Mbit')).toBe('12Mbit');
  });
});
