import { describe, expect, it } from 'vitest';
import { netclsRoot } from '../../src/kernel/cgroup';

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
