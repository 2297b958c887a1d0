// One writer per host: while `sluice serve` manages a host, demo, apply and destroy for
// that host are refused (exit 5), naming serve's pid and command and the command to use
// instead, and touch nothing. Once serve stops, apply works. A SIGKILLed holder leaves
// no stale lock. Everything lives in sl-ow- namespaces.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDist, sluice, startServe, stopServe, writeDemoPolicy } from '../support/cli';
import { describeKernel, netnsList, removeNamespaces } from '../support/kernel';
import { lockFileFor } from '../../src/host/lock';

const PREFIX = 'sl-ow-';
const BUSY = 5;

describeKernel('one writer per host', [], () => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-ow-'));
  const socket = join(dir, 'control.sock');
  let policy: string;
  let serve: ChildProcess | undefined;

  beforeAll(async () => {
    buildDist();
    await removeNamespaces(PREFIX);
    chmodSync(dir, 0o755);
    policy = writeDemoPolicy(dir, 'ow-');
  });

  afterAll(async () => {
    if (serve) await stopServe(serve);
    await sluice(['destroy', policy]);
    await removeNamespaces(PREFIX);
    // Nobody holds them now; the lock files are the test's to remove.
    for (const netns of ['sl-ow-host']) rmSync(lockFileFor(netns), { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('one writer: with serve running, demo, apply and destroy are refused with the holder named; after serve stops, apply works', async () => {
    serve = await startServe([policy], socket);
    const pid = serve.pid!;
    const before = (await netnsList()).filter((n) => n.startsWith(PREFIX)).sort();
    expect(before).toEqual(['sl-ow-api', 'sl-ow-backup', 'sl-ow-batch', 'sl-ow-host', 'sl-ow-web']);

    for (const args of [['demo', policy, '--phase-seconds', '1'], ['apply', policy], ['destroy', policy]]) {
      const r = await sluice(args);
      expect(r.code, args[0]).toBe(BUSY);
      expect(r.stderr).toContain('host namespace sl-ow-host is managed by another Sluice process');
      expect(r.stderr).toContain(`(pid ${pid},`);
      expect(r.stderr).toContain(`sluice serve ${policy}`);
      expect(r.stderr).toContain(`kill ${args[0] === 'apply' ? '-HUP ' : ''}${pid}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const json = await sluice(['apply', policy, '-o', 'json']);
    expect(json.code).toBe(BUSY);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'EBUSY' } });
    // Refused means untouched: the demo did not tear serve's sandbox down.
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX)).sort()).toEqual(before);

    await stopServe(serve);
    serve = undefined;
    const after = await sluice(['apply', policy]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('No changes');
  });

  it('one writer: a holder killed with SIGKILL leaves no stale lock', async () => {
    serve = await startServe([policy], socket);
    serve.kill('SIGKILL');
    await new Promise((r) => serve!.once('exit', r));
    serve = undefined;
    const r = await sluice(['apply', policy]);
    expect(r.code).toBe(0);
  });
});
