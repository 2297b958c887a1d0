// One writer per host: while `sluice serve` manages a host, demo, apply and destroy for
// that host are refused (exit 5), naming serve's pid and command and the command to use
// instead, and touch nothing. Once serve stops, apply works. A SIGKILLed holder leaves
// no stale lock. Everything lives in sl-ow- namespaces.
import { expect, it } from 'vitest';
import { cliTestbed, sluice, startServe, stopServe } from '../support/cli';
import { describeKernel, netnsList } from '../support/kernel';

const PREFIX = 'sl-ow-';
const BUSY = 5;

describeKernel('one writer per host', [], () => {
  const bed = cliTestbed('ow-');
  const { socket } = bed;

  it('one writer: with serve running, demo, apply and destroy are refused with the holder named; after serve stops, apply works', async () => {
    const serve = (bed.serve = await startServe([bed.policy], socket));
    const pid = serve.pid!;
    const before = (await netnsList()).filter((n) => n.startsWith(PREFIX)).sort();
    expect(before).toEqual(['sl-ow-api', 'sl-ow-backup', 'sl-ow-batch', 'sl-ow-host', 'sl-ow-web']);

    for (const args of [['demo', bed.policy, '--phase-seconds', '1'], ['apply', bed.policy], ['destroy', bed.policy]]) {
      const r = await sluice(args);
      expect(r.code, args[0]).toBe(BUSY);
      expect(r.stderr).toContain('host namespace sl-ow-host is managed by another Sluice process');
      expect(r.stderr).toContain(`(pid ${pid},`);
      expect(r.stderr).toContain(`sluice serve ${bed.policy}`);
      expect(r.stderr).toContain(`kill ${args[0] === 'apply' ? '-HUP ' : ''}${pid}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const json = await sluice(['apply', bed.policy, '-o', 'json']);
    expect(json.code).toBe(BUSY);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'EBUSY' } });
    // Refused means untouched: the demo did not tear serve's sandbox down.
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX)).sort()).toEqual(before);

    await stopServe(serve);
    bed.serve = undefined;
    const after = await sluice(['apply', bed.policy]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('No changes');
  });

  it('one writer: a holder killed with SIGKILL leaves no stale lock', async () => {
    const serve = (bed.serve = await startServe([bed.policy], socket));
    serve.kill('SIGKILL');
    await new Promise((r) => serve.once('exit', r));
    bed.serve = undefined;
    const r = await sluice(['apply', bed.policy]);
    expect(r.code).toBe(0);
  });
});
