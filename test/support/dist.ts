// dist/, compiled from this tree: what bin/sluice.js runs (the CLI tests, the fuzz smoke's
// processes) and the load generators of the kernel tests run (test/support/kernelSetup.ts).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What dist/ was compiled from, written into it after a build: a hash of everything tsc
 * reads (src/, both tsconfigs, the compiler's version). It lives in dist/, so whatever
 * removes dist/ (npm pack's prepack) removes it too.
 */
const DIST_STAMP = 'dist/.compiled-from';

function distSources(): string {
  const hash = createHash('sha256');
  const files = readdirSync('src', { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  for (const file of [...files.sort(), 'tsconfig.json', 'tsconfig.build.json', 'node_modules/typescript/package.json']) hash.update(`${file}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/**
 * bin/sluice.js loads dist/: compile it from this tree, unless the last build here was of
 * exactly these sources (tsc took ~6 s in each of the four CLI files and the fuzz smoke,
 * each time from the same tree).
 */
export function buildDist(): void {
  const sources = distSources();
  if (existsSync(DIST_STAMP) && readFileSync(DIST_STAMP, 'utf8') === sources) return;
  rmSync(DIST_STAMP, { force: true });
  const r = spawnSync('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
  markDistBuilt(sources);
}

/** Records that dist/ was just compiled from this tree by someone else: npm pack (its prepare), which empties dist/ first. */
export function markDistBuilt(sources: string = distSources()): void {
  writeFileSync(DIST_STAMP, sources);
}
