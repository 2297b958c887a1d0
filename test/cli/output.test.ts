// What an operator sees when something fails: never a stack, unless --debug.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeInternal, EXIT, EXIT_HELP, exitCodeFor, reportError, setDebug } from '../../src/cli/output';
import { buildProgram } from '../../src/cli/main';
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

  it('an internal error exits with its own status, not usage (2): a usage test cannot pass on a crash', () => {
    expect(exitCodeFor(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(EXIT.internal);
    expect(EXIT.internal).not.toBe(EXIT.usage);
    expect(stderrOf(() => expect(reportError(new Error('boom'))).toBe(EXIT.internal))).toContain('internal error: boom');
  });

  it('every exit status is distinct and listed in `sluice --help`', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    let help = '';
    buildProgram().configureOutput({ writeOut: (t) => (help += t) }).outputHelp();
    expect(help).toContain(EXIT_HELP.trim());
    for (const code of codes) expect(help).toMatch(new RegExp(`^ +${code}  \\S`, 'm'));
  });
});
