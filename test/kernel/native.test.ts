// Pure checks of how addon failures map to typed errors (no addon, no root needed).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError, NamespaceNotFoundError, PathEscapeError, PermissionError } from '../../src/errors';
import { confinedToRunDir, netnsPath, pidNetns, toSluiceError } from '../../src/kernel/native';
import { HOST_NETNS } from '../../src/tc/model';

function sysError(code: string, errno: number, syscall: string, path?: string): Error {
  return Object.assign(new Error(`${code}: ${syscall}`), { code, errno, syscall, path });
}

describe('toSluiceError', () => {
  const context = { request: 'open', object: 'netlink socket', netns: 'sl-x', netnsFile: '/run/netns/sl-x' };

  it('turns EPERM and EACCES into PermissionError naming the action', () => {
    for (const code of ['EPERM', 'EACCES']) {
      const error = toSluiceError(sysError(code, 1, 'setns', '/run/netns/sl-x'), context);
      expect(error).toBeInstanceOf(PermissionError);
      expect(error.message).toContain('open netlink socket');
    }
  });

  it('turns ENOENT on the namespace file into NamespaceNotFoundError', () => {
    const error = toSluiceError(sysError('ENOENT', 2, 'open', '/run/netns/sl-x'), context);
    expect(error).toBeInstanceOf(NamespaceNotFoundError);
    expect((error as NamespaceNotFoundError).code).toBe('ENONETNS');
    expect((error as NamespaceNotFoundError).hint).toMatch(/ip netns list/);
  });

  it('keeps errno, object and namespace in a KernelError for the rest', () => {
    const error = toSluiceError(sysError('EINVAL', 22, 'setns', '/etc/hosts'), context) as KernelError;
    expect(error).toBeInstanceOf(KernelError);
    expect([error.errno, error.errnoName, error.request, error.object, error.netns]).toEqual([
      22, 'EINVAL', 'open', 'netlink socket', 'sl-x',
    ]);
    expect(error.hint).toMatch(/not a network namespace file/);
  });

  it('passes through errors that are not system-call failures', () => {
    const plain = new TypeError('bad argument');
    expect(toSluiceError(plain, context)).toBe(plain);
  });
});

describe('netnsPath', () => {
  it('resolves names, paths, the host and pids', () => {
    expect(netnsPath('sl-a')).toBe('/run/netns/sl-a');
    expect(netnsPath('/proc/7/ns/net')).toBe('/proc/7/ns/net');
    expect(netnsPath(HOST_NETNS)).toBe('/proc/self/ns/net');
    expect(pidNetns(7)).toBe('/proc/7/ns/net');
    expect(() => netnsPath('a/b')).toThrow(RangeError);
    expect(() => pidNetns(0)).toThrow(RangeError);
  });
});

describe('a namespace name stays under /run/netns', () => {
  it('refuses a symlink in its place (to the real host), whatever it points at', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-netnsdir-'));
    try {
      symlinkSync('/proc/1/ns/net', join(dir, 'sl-escape'));
      writeFileSync(join(dir, 'sl-real'), '');
      expect(() => confinedToRunDir(join(dir, 'sl-escape'), 'sl-escape')).toThrow(PathEscapeError);
      expect(() => confinedToRunDir(join(dir, 'sl-escape'), 'sl-escape')).toThrow(/a link to \/proc\/1\/ns\/net/);
      expect(confinedToRunDir(join(dir, 'sl-real'), 'sl-real')).toBe(join(dir, 'sl-real'));
      expect(confinedToRunDir(join(dir, 'sl-absent'), 'sl-absent')).toBe(join(dir, 'sl-absent'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
