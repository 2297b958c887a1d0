// The kernel project cannot pass by skipping: run as an unprivileged user it fails,
// naming what is missing; SLUICE_SKIP_KERNEL=1 is the only way to skip, and says so.
// Runs one small kernel test file in a nested vitest as uid 65534 (nobody).
import { spawnSync } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { AS_NOBODY, describeKernel } from './kernel';

const FILE = 'test/kernel/cgroup.kernel.test.ts';

function vitestAsNobody(extraEnv: Record<string, string>): { status: number | null; output: string } {
  // The nested run must not write into CI's report directory (its skip is on purpose).
  const { SLUICE_TEST_REPORT_DIR: _ignored, ...env } = process.env;
  const r = spawnSync('setpriv', [...AS_NOBODY, 'node_modules/.bin/vitest', 'run', '--project', 'kernel', FILE], {
    env: { ...env, HOME: '/tmp', ...extraEnv },
    encoding: 'utf8',
    timeout: 110_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The nested run needs the checkout readable by uid 65534; say so rather than fail obscurely. */
function assertReadableByNobody(): void {
  const r = spawnSync('setpriv', [...AS_NOBODY, process.execPath, '-e', `require('node:fs').accessSync(${JSON.stringify(`${process.cwd()}/node_modules/.bin/vitest`)})`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`uid 65534 (with CAP_DAC_READ_SEARCH) cannot read this checkout (${process.cwd()}): ${r.stderr.trim()}`);
}

describeKernel('kernel tests fail, not skip', ['setpriv'], () => {
  beforeAll(assertReadableByNobody);

  it('the kernel project run as a non-root user exits non-zero, saying it needs root', () => {
    const r = vitestAsNobody({});
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)');
    expect(r.output).toContain('SLUICE_SKIP_KERNEL=1');
  });

  it('SLUICE_SKIP_KERNEL=1 skips on purpose and says so', () => {
    const r = vitestAsNobody({ SLUICE_SKIP_KERNEL: '1' });
    expect(r.status).toBe(0);
    expect(r.output).toContain('kernel test skipped on purpose (SLUICE_SKIP_KERNEL=1)');
    expect(r.output).toMatch(/skipped/);
  });
});
