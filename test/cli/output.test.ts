// What an operator sees when something fails: never a stack, unless --debug.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeInternal, EXIT, exitCodeFor, reportError, setDebug } from '../../src/cli/output';
import { PermissionError } from '../../src/errors';
import { HostBusyError } from '../../src/host/lock';

function stderrOf(action: () => void): string {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    action();
    return spy.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    spy.mockRestore();
  }
}

describe('errors on the command line', () => {
  afterEach(() => setDebug(false));

  it('an internal error is one line, with the way to get the stack', () => {
    const text = stderrOf(() => reportError(new Error('connect ENETUNREACH 198.18.0.1:5201\nmore')));
    expect(text).toBe('sluice: internal error: connect ENETUNREACH 198.18.0.1:5201 (run with --debug for the stack)\n');
  });

  it('--debug shows the stack', () => {
    setDebug(true);
    const text = stderrOf(() => reportError(new Error('boom')));
    expect(text).toMatch(/^sluice: internal error: Error: boom\n\s+at /);
    expect(describeInternal(new Error('x'), false)).not.toContain('\n');
  });

  it('typed errors: message and hint, exit code by kind', () => {
    const busy = new HostBusyError('sl-host', { pid: 7, command: 'sluice serve', since: 't' }, 'stop it first with `kill 7`');
    expect(stderrOf(() => reportError(busy))).toContain('hint: stop it first with `kill 7`');
    expect(exitCodeFor(busy)).toBe(EXIT.busy);
    expect(exitCodeFor(new PermissionError('apply'))).toBe(EXIT.permission);
  });
});
