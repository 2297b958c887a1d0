import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DefaultDirs } from '../../src/sources/testbedCleanup';

describe("a daemon's default directories: removed after it only when it made them and they are empty", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-defaultdirs-'));
  afterEach(() => rmSync(join(dir, 'run'), { recursive: true, force: true }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('removes the ones missing before, deepest first', () => {
    const dirs = DefaultDirs.before([join(dir, 'run'), join(dir, 'run', 's')]);
    mkdirSync(join(dir, 'run', 's'), { recursive: true });
    dirs.release();
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });

  it('leaves one that was there before (a host daemon) and one still in use', () => {
    mkdirSync(join(dir, 'run'));
    const dirs = DefaultDirs.before([join(dir, 'run'), join(dir, 'run', 's')]);
    mkdirSync(join(dir, 'run', 's'));
    writeFileSync(join(dir, 'run', 's', 'socket'), '');
    dirs.release();
    expect(existsSync(join(dir, 'run', 's', 'socket'))).toBe(true);
    rmSync(join(dir, 'run', 's', 'socket'));
    dirs.release();
    expect([existsSync(join(dir, 'run', 's')), existsSync(join(dir, 'run'))]).toEqual([false, true]);
  });
});
