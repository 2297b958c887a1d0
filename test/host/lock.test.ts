// The per-host writer lock. flock is per open file, so two acquisitions in one process
// conflict exactly as two processes do; the cross-process case (and SIGKILL) is in
// test/host/lock.kernel.test.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireHostLock, acquireHostLocks, hintFor, HostBusyError, lockFileFor, type HostLock } from '../../src/host/lock';
import { HOST_NETNS } from '../../src/tc/model';

describe('one writer per host: the lock', () => {
  let dir: string;
  const held: HostLock[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sl-lock-'));
  });
  afterEach(() => {
    for (const l of held.splice(0)) l.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second writer is refused with the holder named (pid, command) and code EBUSY', () => {
    held.push(acquireHostLock({ netns: 'sl-host', command: 'sluice serve policies/demo.yaml', dir }));
    let error: unknown;
    try {
      acquireHostLock({ netns: 'sl-host', command: 'sluice demo', dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HostBusyError);
    const busy = error as HostBusyError;
    expect(busy.code).toBe('EBUSY');
    expect(busy.holder).toMatchObject({ pid: process.pid, command: 'sluice serve policies/demo.yaml' });
    expect(busy.message).toContain(`pid ${process.pid}`);
    expect(busy.message).toContain('`sluice serve policies/demo.yaml`');
    expect(busy.hint).toContain(`kill ${process.pid}`);
  });

  it('other hosts are independent; release lets the next writer in', () => {
    const first = acquireHostLock({ netns: 'sl-host', command: 'sluice apply', dir });
    held.push(acquireHostLock({ netns: 'sl-other', command: 'sluice apply', dir }));
    first.release();
    expect(readFileSync(lockFileFor('sl-host', dir), 'utf8')).toBe('');
    held.push(acquireHostLock({ netns: 'sl-host', command: 'sluice destroy', dir }));
  });

  it('several hosts are taken all or none', () => {
    held.push(acquireHostLock({ netns: 'sl-b', command: 'sluice serve', dir }));
    expect(() => acquireHostLocks(['sl-a', 'sl-b'], 'sluice destroy', dir)).toThrow(HostBusyError);
    held.push(acquireHostLock({ netns: 'sl-a', command: 'sluice apply', dir }));
  });

  it('lock files: one per namespace, paths and the real host flattened into one name', () => {
    expect(lockFileFor('sl-host', dir)).toBe(join(dir, 'sl-host.lock'));
    expect(lockFileFor(HOST_NETNS, dir)).toBe(join(dir, 'host.lock'));
    expect(lockFileFor('/proc/12/ns/net', dir)).toBe(join(dir, '_proc_12_ns_net.lock'));
    expect(lockFileFor('../x', dir)).toBe(join(dir, '__x.lock'));
  });

  it('apply while serve runs: the exact commands to use instead', () => {
    const serve = { pid: 42, command: 'sluice serve policies/', since: 'now' };
    expect(hintFor('sluice apply policies/', serve)).toContain('`kill -HUP 42`');
    expect(hintFor('sluice demo', serve)).toBe('stop it first with `kill 42` (enforcement stays in place), then run `sluice demo` again');
    expect(hintFor('sluice serve', { ...serve, command: 'sluice apply x' })).toContain('wait for it to finish');
  });
});
