// `sluice top` used as a person would: in a terminal (tmux), the live table appears and
// refreshes, and `q` quits.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { FileOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { describeKernel, removeNamespaces } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';

const run = promisify(execFile);
const SESSION = 'sl-top-test';
const haveTmux = async (): Promise<boolean> => run('tmux', ['-V']).then(() => true, () => false);

describeKernel('sluice top in a terminal', ['tmux'], () => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-top-'));
  const policyFile = join(dir, 'policy.yaml');
  let kernel: RtnlKernel;
  let applier: Applier;
  const policy = demoPolicyFor('tp-');

  beforeAll(async () => {
    await removeNamespaces('sl-tp-');
    writeFileSync(policyFile, readFileSync('policies/demo.yaml', 'utf8').replace(/name: demo\b/, 'name: tp-demo').replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-tp-$1'));
    kernel = new RtnlKernel();
    // The record where `sluice top` (a separate process) reads it: it refuses a host it has no record of.
    applier = new Applier(kernel, new FileOwnershipStore(), nativeProbe, await detectFeatures());
    expect((await applier.apply(policy)).report.failed).toBeUndefined();
  });

  afterAll(async () => {
    await run('tmux', ['kill-session', '-t', SESSION]).catch(() => undefined);
    await applier.destroy(policy.host.name, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces('sl-tp-');
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the live table and quits on q', async () => {
    expect(await haveTmux()).toBe(true);
    const entry = resolve('scripts/sluice-dev.ts');
    const tsx = resolve('node_modules/.bin/tsx');
    await run('tmux', ['new-session', '-d', '-s', SESSION, '-x', '160', '-y', '40', `${tsx} ${entry} top ${policyFile} --control-socket ${join(dir, 'none.sock')} --interval 500; echo TOP-EXITED-$?; sleep 30`]);
    let screen = '';
    for (let i = 0; i < 60 && !/download total/.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 500));
      screen = (await run('tmux', ['capture-pane', '-p', '-t', SESSION])).stdout;
    }
    expect(screen).toMatch(/sluice top · host tp-demo · from kernel \(no daemon\)/);
    expect(screen).toMatch(/web\s+download\s+0/);
    expect(screen).toMatch(/backup\s+upload/);
    await run('tmux', ['send-keys', '-t', SESSION, 'q']);
    for (let i = 0; i < 20 && !/TOP-EXITED-0/.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 500));
      screen = (await run('tmux', ['capture-pane', '-p', '-t', SESSION])).stdout;
    }
    expect(screen).toMatch(/TOP-EXITED-0/);
  }, 60_000);
});
