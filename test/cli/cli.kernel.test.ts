// `sluice` as an operator runs it: the built bin/sluice.js as a process, its exit codes
// (README and src/cli/output.ts EXIT: 0 ok, 1 invalid policy, 2 usage, 3 the kernel refused, 4 not root), its
// `-o json` shapes, status and inspect through a running daemon's control socket, and
// destroy run twice. Everything it creates lives in sl-cli- namespaces.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { EXIT } from '../../src/cli/output';
import { cliTestbed, json, sluice, startServe, stopServe } from '../support/cli';
import { describeKernel, netnsList } from '../support/kernel';

const PREFIX = 'sl-cli-';

describeKernel('cli: the built sluice as a process', ['setpriv'], () => {
  const bed = cliTestbed('cli-', ['sl-cli-host', 'sl-cli-mhost']);
  const { dir, socket } = bed;

  it('cli exit 0 and 1: validate, with its JSON shape', async () => {
    const ok = await sluice(['validate', bed.policy, '-o', 'json']);
    expect(ok.code).toBe(0);
    expect(json(ok)).toEqual({ ok: true, files: [bed.policy], containers: 4, schedules: 0, waiting: [] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: h }\nspec:\n  subnet: 198.18.0.0/24\n  capacity: { download: 100mbps, upload: 100mbit }\n');
    const invalid = await sluice(['validate', bad, '-o', 'json']);
    expect(invalid.code).toBe(1);
    const issues = json<{ ok: boolean; issues: Array<Record<string, unknown>> }>(invalid);
    expect(issues.ok).toBe(false);
    expect(issues.issues[0]).toMatchObject({ file: bad, line: 6, path: 'spec.capacity.download' });
    const text = await sluice(['apply', bad]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(`${bad}:6:`);
  });

  it('cli exit 2: usage errors (unknown option, unknown command, bad choice), each with commander\'s own message', async () => {
    // The message, not only the status: an internal error (a crash) exits 70, and a crash
    // that printed something else would fail here too.
    const cases: readonly [readonly string[], string][] = [
      [['validate', '--bogus'], "error: unknown option '--bogus'"],
      [['no-such-command'], "error: unknown command 'no-such-command'"],
      [['plan', bed.policy, '-o', 'xml'], "error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are text, json."],
      [['serve', bed.policy, '--metrics-address', 'nowhere'], "error: option '--metrics-address <host:port>' argument 'nowhere' is invalid."],
    ];
    for (const [args, message] of cases) {
      const r = await sluice(args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr.split('\n')[0], args.join(' ')).toContain(message);
      expect(r.stderr).toContain('(run `sluice <command> --help` for usage)');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('cli exit 4: apply as a user who is not root, without a stack', async () => {
    const r = await sluice(['apply', bed.policy], { asNobody: true });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('needs root');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('cli exit 3: the kernel refuses (a namespace the policy names does not exist), one message, no stack', async () => {
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, `apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: cli-missing }\nspec:\n  netns: sl-cli-mhost\n  subnet: 198.18.2.0/24\n  capacity: { download: 100mbit, upload: 100mbit }\n---\napiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: ghost }\nspec:\n  match: { netns: sl-cli-nowhere }\n  download: { guarantee: 10mbit }\n  upload: { guarantee: 10mbit }\n`);
    try {
      const r = await sluice(['apply', missing, '-o', 'json']);
      expect(r.code).toBe(3);
      const out = json<{ ok: boolean; error: { code: string; message: string } }>(r);
      expect(out.ok).toBe(false);
      expect(out.error.message).toContain('sl-cli-nowhere');
    } finally {
      await sluice(['destroy', missing]);
    }
  });

  it('cli apply and plan: JSON shapes; a second apply changes nothing', async () => {
    const plan = await sluice(['plan', bed.policy, '-o', 'json']);
    expect(plan.code).toBe(0);
    const planned = json<{ against: string; summary: { create: number }; operations: Array<{ op: string; type: string; key: string }> }>(plan);
    expect(planned.summary.create).toBeGreaterThan(0);
    expect(planned.operations[0]).toMatchObject({ op: 'create', type: 'namespace', key: 'netns/sl-cli-host' });
    const first = await sluice(['apply', bed.policy, '-o', 'json']);
    expect(first.code).toBe(0);
    expect(json(first)).toMatchObject({ ok: true });
    const again = await sluice(['apply', bed.policy]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes');
    expect(await netnsList()).toEqual(expect.arrayContaining(['sl-cli-host', 'sl-cli-web']));
  });

  it('cli status and inspect through a running daemon\'s control socket (0600, root)', async () => {
    const serve = (bed.serve = await startServe([bed.policy], socket));
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
    const status = await sluice(['status', bed.policy, '--control-socket', socket, '-o', 'json']);
    expect(status.code).toBe(0);
    const snap = json<{ via: string; host: string; rows: Array<{ container: string; direction: string; guarantee: number }> }>(status);
    expect(snap.via).toBe(`daemon (${socket})`);
    expect(snap.host).toBe('cli-demo');
    expect(snap.rows.map((r) => `${r.direction}/${r.container}`).sort()).toEqual(['api', 'backup', 'batch', 'web'].flatMap((c) => [`download/${c}`, `upload/${c}`]).sort());
    const inspect = await sluice(['inspect', 'web', bed.policy, '--control-socket', socket, '-o', 'json']);
    expect(inspect.code).toBe(0);
    const seen = json<{ via: string; container: { name: string }; traffic: Array<{ container: string }>; objects: Array<{ key: string }> }>(inspect);
    expect(seen.via).toBe(`daemon (${socket})`);
    expect(seen.container.name).toBe('web');
    expect(seen.traffic.map((r) => r.container)).toEqual(['web', 'web']);
    expect(seen.objects.length).toBeGreaterThan(0);
    const unknown = await sluice(['inspect', 'nobody-here', bed.policy, '--control-socket', socket]);
    expect(unknown.code).toBe(1);
    await stopServe(serve);
    bed.serve = undefined;
  });

  it('cli destroy is idempotent: twice, exit 0 both times, nothing left', async () => {
    const first = await sluice(['destroy', bed.policy, '-o', 'json']);
    expect(first.code).toBe(0);
    expect(json(first)).toMatchObject({ ok: true });
    const second = await sluice(['destroy', bed.policy]);
    expect(second.code).toBe(0);
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
  });
});
