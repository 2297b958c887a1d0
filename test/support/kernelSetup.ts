// The kernel project's global setup, once per vitest run:
// - dist/ compiled from this tree (at once when it already is), and its load generator
//   named to src/loadgen/driver.ts: the rigs of the rate tests start plain JS processes,
//   not the TS sources under tsx (~1 s each here; a rig starts up to ~20);
// - a directory for the run, in which its files share what is the same for all of them
//   (the npm package, packed and installed once: test/support/installedOnce.ts), removed
//   when the run ends, failed or not. It is the run's TMPDIR too: several files make their
//   scratch directory as their describe block is collected, and a run whose filter (-t)
//   leaves a file no test to run never runs that file's afterAll, so the directory stayed.
// - the check that nothing is left behind: the entries of /run, /run/netns, /dev/shm,
//   /var/lib and the cgroup hierarchies are listed before the run, and each new one after
//   it fails the run, named with its maker (test/support/leftovers.ts); new /tmp/sl-…
//   entries are shown, not counted (/tmp is shared with every process on the machine).
//   It sets the exit code rather than throwing: vitest 3.2 exits 1 either way, but a
//   throw in a global teardown cuts its own clean-up short and leaves its temporary
//   directory (/tmp/<random>/ssr) behind.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { LOADGEN_ENTRY_ENV } from '../../src/loadgen/driver';
import { buildDist } from './dist';
import { leftovers, leftoversMessage, listEntries } from './leftovers';

/** As test/support/kernel.ts names it (not imported: that module is for test files, this runs in vitest's own process). */
const SKIP_KERNEL_ENV = 'SLUICE_SKIP_KERNEL';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run's directory (see test/support/kernelSetup.ts). */
    runDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const before = listEntries();
  // Not as a user who cannot write dist/, nor for a run that skips: describeKernel must be
  // the one to fail or skip (test/support/kernelGuard.kernel.test.ts runs both).
  if (process.getuid?.() === 0 && process.env[SKIP_KERNEL_ENV] !== '1') {
    buildDist();
    // The test files' process (a fork of this one) inherits it.
    process.env[LOADGEN_ENTRY_ENV] = resolve('dist/loadgen/main.js');
  }
  const dir = mkdtempSync(join(tmpdir(), 'sl-run-'));
  // As /tmp is (mkdtemp makes it 0700): the unprivileged users of the CLI's exit-4 cases
  // and of kernelGuard's nested runs (whose own global setup makes its run directory in
  // this one) must traverse it and make theirs.
  chmodSync(dir, 0o1777);
  project.provide('runDir', dir);
  // The test files' process (a fork of this one) inherits it: os.tmpdir() there is this run's.
  process.env['TMPDIR'] = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    const found = leftovers(before, listEntries());
    if (found.length === 0) return;
    process.stderr.write(`\n${leftoversMessage(found)}\n`);
    if (found.some((l) => l.counts)) process.exitCode = 1;
  };
}
