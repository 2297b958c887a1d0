// deploy/systemd/sluice.service: systemd-analyze verify accepts it, and `sluice serve` run
// with exactly its capability bounding set (setpriv, as root) applies a sandbox policy,
// serves metrics and reloads on SIGHUP; with one capability fewer it exits at once, naming
// the one missing. Runtime: ~15 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BIN, cliTestbed, stopServe } from '../support/cli';
import { describeKernel, netnsList, sh } from '../support/kernel';
import { runProgram } from '../../scripts/package';

const UNIT = 'deploy/systemd/sluice.service';

/** The [Service] settings (a key given twice keeps both values). */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]' && line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      settings.set(line.slice(0, eq), [...(settings.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
    }
  }
  return settings;
}

const settings = serviceSettings(readFileSync(UNIT, 'utf8'));
const one = (key: string): string => settings.get(key)?.[0] ?? '';
/** CAP_NET_ADMIN → net_admin, as setpriv names them. */
const unitCaps = one('CapabilityBoundingSet').split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
const metricsPort = 20_000 + (process.pid % 10_000);

function httpGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: metricsPort, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describeKernel('the systemd unit', ['setpriv', 'systemd-analyze'], () => {
  const bed = cliTestbed('sd');
  const verifyRoot = mkdtempSync(join(tmpdir(), 'sl-unit-'));
  afterAll(() => rmSync(verifyRoot, { recursive: true, force: true }));

  /** serve as the unit runs it, with the policy directory and ports of this test, bounded to `caps`. */
  const serveBounded = (caps: readonly string[]): { child: ChildProcess; log: () => string } => {
    const [program, ...args] = one('ExecStart').split(/\s+/);
    expect(program).toMatch(/\/sluice$/);
    const serveArgs = args.map((a) => (a === '/etc/sluice/' ? `${bed.dir}/` : a));
    const child = spawn('setpriv', [`--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', '--', process.execPath, BIN, ...serveArgs, '--control-socket', bed.socket, '--metrics-address', `127.0.0.1:${metricsPort}`, '--tick', '300'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    return { child, log: () => log };
  };
  const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, log: () => string): Promise<void> => {
    for (let i = 0; i < 150; i++) {
      if (await ok()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} did not happen in 15 s; serve's log:\n${log()}`);
  };
  const exitOf = (child: ChildProcess): Promise<number | null> => new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

  it('passes systemd-analyze verify', async () => {
    // A root of its own: systemd's units (for the default dependencies) and a stand-in for
    // each program the unit runs, so verify checks the unit, not what this machine installed.
    mkdirSync(join(verifyRoot, 'etc/systemd/system'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(verifyRoot, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const line of [...settings.entries()].filter(([k]) => k.startsWith('Exec')).flatMap(([, v]) => v)) {
      const program = /^[-+@!:]*(\/\S+)/.exec(line)![1]!;
      mkdirSync(join(verifyRoot, dirname(program)), { recursive: true });
      writeFileSync(join(verifyRoot, program), '#!/bin/sh\n');
      chmodSync(join(verifyRoot, program), 0o755);
    }
    cpSync(UNIT, join(verifyRoot, 'etc/systemd/system/sluice.service'));
    const r = await runProgram('systemd-analyze', ['verify', `--root=${verifyRoot}`, '/etc/systemd/system/sluice.service']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('reloads with SIGHUP, restarts on failure, reads /etc/sluice/, and is hardened', () => {
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('ExecStart')).toMatch(/ serve \/etc\/sluice\/ /);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RuntimeDirectory')).toBe('sluice');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(unitCaps).toEqual(['net_admin', 'sys_admin']);
  });

  it('with one capability fewer, serve exits at once naming the one missing, and changes nothing', async () => {
    for (const dropped of unitCaps) {
      const { child, log } = serveBounded(unitCaps.filter((c) => c !== dropped));
      expect(await exitOf(child), log()).toBe(4);
      expect(log()).toContain(`needs CAP_${dropped.toUpperCase()}, which this process lacks`);
      expect(log()).toContain('CapabilityBoundingSet=');
    }
    expect((await netnsList()).filter((n) => n.startsWith('sl-sd'))).toEqual([]);
  });

  it("with exactly the unit's capabilities, serve applies, serves metrics and reloads on SIGHUP", async () => {
    const { child, log } = serveBounded(unitCaps);
    bed.serve = child;
    const webClass = async (): Promise<string> => (await sh('tc', ['-n', 'sl-sdhost', 'class', 'show', 'dev', 'sl-br0']).catch(() => '')).split('\n').find((l) => l.includes('prio 0 ')) ?? '';
    await waitFor('the first convergence', () => log().includes('"event":"converged"'), log);
    expect(await webClass()).toContain('rate 30Mbit');
    const metrics = await httpGet('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/sluice_container_info\{container="web"/);
    expect((await httpGet('/healthz')).status).toBe(200);

    writeFileSync(bed.policy, readFileSync(bed.policy, 'utf8').replace('download: { guarantee: 30mbit, priority: 0 }', 'download: { guarantee: 25mbit, priority: 0 }'));
    child.kill('SIGHUP');
    await waitFor('a reload for SIGHUP', () => /"event":"policy reloaded","reason":"SIGHUP"/.test(log()), log);
    await waitFor('the new guarantee in the kernel', async () => (await webClass()).includes('rate 25Mbit'), log);
    await stopServe(child);
    expect(child.exitCode, log()).toBe(0);
  });
});
