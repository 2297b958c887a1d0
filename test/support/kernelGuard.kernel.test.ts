// The kernel project cannot pass by skipping: run as an unprivileged user it fails,
// naming what is missing; SLUICE_SKIP_KERNEL=1 is the only way to skip, and says so.
// Runs one small kernel test file in a nested vitest as uid 65534 (nobody).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AS_NOBODY, describeKernel } from './kernel';

const FILE = 'test/kernel/cgroup.kernel.test.ts';

function vitestAsNobody(checkout: string, extraEnv: Record<string, string>): { status: number | null; output: string } {
  // The nested run must not write into CI's report directory (its skip is on purpose).
  const { SLUICE_TEST_REPORT_DIR: _ignored, ...env } = process.env;
  const r = spawnSync('setpriv', [...AS_NOBODY, 'node_modules/.bin/vitest', 'run', '--project', 'kernel', FILE], {
    cwd: checkout,
    env: { ...env, HOME: '/tmp', ...extraEnv },
    encoding: 'utf8',
    timeout: 110_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** vite checks files with access(2), which goes by the real uid whatever the capabilities. */
function readableByNobody(checkout: string): boolean {
  return spawnSync('setpriv', [...AS_NOBODY, process.execPath, '-e', `require('node:fs').accessSync(${JSON.stringify(`${checkout}/node_modules/.bin/vitest`)})`]).status === 0;
}

describeKernel('kernel tests fail, not skip', ['setpriv'], () => {
  let checkout = process.cwd();
  let copy: string | undefined;

  // A clone under a directory others cannot read (CI's under /root): run a hard-linked
  // copy in /tmp instead (the files' own modes let anyone read them; the links cost no space).
  beforeAll(() => {
    if (readableByNobody(checkout)) return;
    copy = `/tmp/sl-guard-${process.pid}`;
    const cp = spawnSync('cp', ['-al', checkout, copy], { encoding: 'utf8' });
    if (cp.status !== 0 || !readableByNobody(copy)) throw new Error(`uid 65534 cannot read ${checkout}, nor a hard-linked copy in ${copy}: ${cp.stderr}`);
    checkout = copy;
  });

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('the kernel project run as a non-root user exits non-zero, saying it needs root', () => {
    const r = vitestAsNobody(checkout, {});
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)');
    expect(r.output).toContain('SLUICE_SKIP_KERNEL=1');
  });

  it('SLUICE_SKIP_KERNEL=1 skips on purpose and says so', () => {
    const r = vitestAsNobody(checkout, { SLUICE_SKIP_KERNEL: '1' });
    expect(r.status).toBe(0);
    expect(r.output).toContain('kernel test skipped on purpose (SLUICE_SKIP_KERNEL=1)');
    expect(r.output).toMatch(/skipped/);
  });
});
