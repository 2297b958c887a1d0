// A namespace name must stay under /run/netns when resolved: a symlink planted there
// (say to /proc/1/ns/net, the real host) is refused before Sluice opens anything in it.
import { mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { PathEscapeError } from '../../src/errors';
import { createNetns, deleteNetns, netnsIdentity, netnsPath, NETNS_RUN_DIR } from '../../src/kernel/native';
import { describeKernel } from '../support/kernel';

const PLANTED = `${NETNS_RUN_DIR}/sl-escape`;

describeKernel('namespace paths stay where they belong', [], () => {
  afterEach(() => rmSync(PLANTED, { force: true }));

  it('a symlink in /run/netns leading out is refused; ".." in an absolute path too', () => {
    mkdirSync(NETNS_RUN_DIR, { recursive: true });
    symlinkSync('/proc/1/ns/net', PLANTED);
    expect(() => netnsPath('sl-escape')).toThrow(PathEscapeError);
    expect(() => netnsPath('sl-escape')).toThrow(/a link to \/proc\/1\/ns\/net/);
    expect(() => netnsPath('/run/netns/../../proc/1/ns/net')).toThrow(PathEscapeError);
    expect(netnsPath('sl-not-there')).toBe(`${NETNS_RUN_DIR}/sl-not-there`);
  });

  it("a namespace's identity is its nsfs inode (one lstat); a planted symlink or a missing name has none", () => {
    mkdirSync(NETNS_RUN_DIR, { recursive: true });
    symlinkSync('/proc/1/ns/net', PLANTED);
    expect(netnsIdentity('sl-escape')).toBeUndefined();
    expect(netnsIdentity('sl-not-there')).toBeUndefined();
    expect(netnsIdentity('../x')).toBeUndefined();
    createNetns('sl-identity');
    try {
      const st = statSync(`${NETNS_RUN_DIR}/sl-identity`);
      expect(netnsIdentity('sl-identity')).toBe(`${st.dev}:${st.ino}`);
      expect(netnsIdentity(`${NETNS_RUN_DIR}/sl-identity`)).toBe(`${st.dev}:${st.ino}`);
    } finally {
      deleteNetns('sl-identity');
    }
  });
});
