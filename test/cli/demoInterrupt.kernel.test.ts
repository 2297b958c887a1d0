// `sluice demo` interrupted with Ctrl-C (SIGINT) in the middle of a phase leaves nothing
// behind: no sl- namespace, no ownership record, no load generator.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { describeKernel, netnsList, sh } from '../support/kernel';

const DEMO_NAMESPACES = ['sl-host', 'sl-web', 'sl-api', 'sl-batch', 'sl-backup', 'sl-peer'];

describeKernel('sluice demo, interrupted', [], () => {
  it('Ctrl-C during a phase removes everything the demo made', async () => {
    const child = spawn(resolve('node_modules/.bin/tsx'), [resolve('scripts/sluice-dev.ts'), 'demo', '--phase-seconds', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 120 && !out.includes('phase "share"'); i++) await new Promise((r) => setTimeout(r, 250));
    expect(out).toContain('phase "share"');
    expect((await netnsList()).filter((n) => DEMO_NAMESPACES.includes(n)).length).toBe(DEMO_NAMESPACES.length);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(130);
    expect(out).toContain('removing the sandbox');
    expect((await netnsList()).filter((n) => DEMO_NAMESPACES.includes(n))).toEqual([]);
    expect(existsSync('/run/sluice/owned-demo.json')).toBe(false);
    expect(await sh('sh', ['-c', 'pgrep -f "[l]oadgen/main" || true'])).toBe('');
  }, 90_000);
});
