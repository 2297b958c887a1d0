// The npm package of this checkout, packed and installed once per vitest run and shared by
// the files that need it (test/deploy/package and test/deploy/image): each took ~45 s to
// pack and install the same tree. In this run's directory (test/support/kernelSetup.ts), which
// the run removes when it ends.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { packAndInstall, type Installed } from '../../scripts/package';
import { markDistBuilt } from './dist';

/** The package installed in this run, packing and installing it if no file of the run has yet. */
export async function installedOnce(): Promise<Installed> {
  const dir = join(inject('runDir'), 'package');
  // Written last: a run whose install failed half-way leaves no record, and the next file starts over.
  const record = join(dir, 'installed.json');
  if (existsSync(record)) return JSON.parse(readFileSync(record, 'utf8')) as Installed;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const installed = await packAndInstall(dir);
  // npm pack emptied dist/ and its prepare compiled it again from this tree.
  markDistBuilt();
  writeFileSync(record, JSON.stringify(installed));
  return installed;
}
