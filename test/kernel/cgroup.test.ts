import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupDir, netclsRoot } from '../../src/kernel/cgroup';
import { PathEscapeError } from '../../src/errors';

describe('netclsRoot', () => {
  it('finds the net_cls v1 mount, also when co-mounted with net_prio', () => {
    const mounts = [
      'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
      'cgroup /sys/fs/cgroup/net_cls,net_prio cgroup rw,nosuid,net_cls,net_prio 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
    ].join('\n');
    expect(netclsRoot(mounts)).toBe('/sys/fs/cgroup/net_cls,net_prio');
  });
  it('is undefined without one', () => {
    expect(netclsRoot('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n')).toBeUndefined();
  });
});

describe('cgroupDir: a cgroup stays under the net_cls root', () => {
  it('refuses ".." segments and the root itself, lexically', () => {
    expect(() => cgroupDir('/sys/fs/cgroup/net_cls', '../../../etc')).toThrow(PathEscapeError);
    expect(() => cgroupDir('/sys/fs/cgroup/net_cls', 'sl-a/../../x')).toThrow(/outside \/sys\/fs\/cgroup\/net_cls/);
    expect(() => cgroupDir('/sys/fs/cgroup/net_cls', '.')).toThrow(PathEscapeError);
    expect(cgroupDir('/sys/fs/cgroup/net_cls', 'sl-agent/inner')).toBe('/sys/fs/cgroup/net_cls/sl-agent/inner');
  });

  it('refuses a symlink leading out once resolved', () => {
    const root = mkdtempSync(join(tmpdir(), 'sl-cgroot-'));
    const outside = mkdtempSync(join(tmpdir(), 'sl-outside-'));
    try {
      symlinkSync(outside, join(root, 'sl-link'));
      mkdirSync(join(root, 'sl-real'));
      expect(() => cgroupDir(root, 'sl-link', realpathSync)).toThrow(PathEscapeError);
      expect(cgroupDir(root, 'sl-real', realpathSync)).toBe(join(root, 'sl-real'));
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
