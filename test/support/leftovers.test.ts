import { describe, expect, it } from 'vitest';
import { leftovers, leftoversMessage } from './leftovers';

describe('the kernel run leaves nothing behind: new entries, each named with its maker', () => {
  it('reports only what is new, less what is the product own, sorted, each with its maker', () => {
    const before = new Set(['/run/dbus', '/run/containerd']);
    const after = new Set(['/run/dbus', '/run/containerd', '/run/sluice', '/run/sl-docker', '/dev/shm/libpod_lock', '/sys/fs/cgroup/memory/sl-docker', '/run/runc']);
    const found = leftovers(before, after);
    expect(found.map((l) => l.path)).toEqual(['/dev/shm/libpod_lock', '/run/runc', '/run/sl-docker', '/sys/fs/cgroup/memory/sl-docker']);
    expect(found.find((l) => l.path === '/run/sl-docker')?.madeBy).toMatch(/Docker test bed/);
    expect(found.find((l) => l.path === '/dev/shm/libpod_lock')?.madeBy).toMatch(/Podman test/);
    expect(found.find((l) => l.path === '/run/runc')?.madeBy).toMatch(/containerd/);
  });

  it('names an unknown maker with how to find it, and says what to do', () => {
    const message = leftoversMessage(leftovers(new Set(), new Set(['/var/lib/somewhere'])));
    expect(message).toContain('/var/lib/somewhere  (made by not known: run each kernel test file alone');
    expect(message).toMatch(/left 1 thing\(s\) behind/);
    expect(message).toContain('Test daemons leave nothing behind');
  });

  it("shows what is new in /tmp without counting it: other processes name theirs sl- too", () => {
    const found = leftovers(new Set(), new Set(['/tmp/sl-lead', '/run/runc']));
    expect(found.map((l) => [l.path, l.counts])).toEqual([['/run/runc', true], ['/tmp/sl-lead', false]]);
    expect(leftoversMessage(found)).toMatch(/left 1 thing\(s\)[\s\S]*not counted[^\n]*\n  \/tmp\/sl-lead$/);
    expect(leftoversMessage(found.filter((l) => !l.counts))).not.toMatch(/left/);
  });

  it('finds nothing when nothing is new', () => {
    expect(leftovers(new Set(['/run/a']), new Set(['/run/a']))).toEqual([]);
  });
});
