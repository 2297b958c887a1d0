// Output and exit codes shared by every command, so scripts can rely on them.

import { Option } from 'commander';
import { SluiceError } from '../errors';

/**
 * Every exit status `sluice` ends with: the one table scripts (and the CLI fuzzer) rely
 * on, printed by `sluice --help` (EXIT_HELP) and written out in the README.
 */
export const EXIT = {
  ok: 0,
  /** The policy has errors, or a check (demo verdict) failed. */
  invalid: 1,
  /** Commander refused the command line (unknown command or option, bad choice). */
  usage: 2,
  /** The kernel refused an operation, an object is not Sluice's (EFOREIGN), Docker did not answer. */
  kernel: 3,
  /** Root / CAP_NET_ADMIN needed. */
  permission: 4,
  /** Another Sluice process (named in the message) writes to this host. */
  busy: 5,
  /**
   * A bug: an error Sluice did not raise on purpose. Apart from usage (2) so that a test
   * of a usage error cannot pass on a crash; 70 is sysexits.h's EX_SOFTWARE.
   */
  internal: 70,
  /** `demo` stopped by SIGINT/SIGTERM after removing its sandbox (128 + SIGINT). */
  interrupted: 130,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

const EXIT_MEANINGS: Readonly<Record<keyof typeof EXIT, string>> = {
  ok: 'success',
  invalid: 'invalid policy, a failed demo verdict, or more containers than a bridge has ports (EBRIDGEFULL)',
  usage: 'usage: unknown command or option, bad option value',
  kernel: 'the kernel refused an operation, the policy would touch an object Sluice did not create (EFOREIGN), or Docker did not answer',
  permission: 'not root, or root without CAP_NET_ADMIN or CAP_SYS_ADMIN (named)',
  busy: 'another Sluice process writes to this host',
  internal: 'internal error (a bug; --debug shows the stack)',
  interrupted: 'demo interrupted (Ctrl-C), its sandbox removed',
};

/** The exit status table for `sluice --help`. */
export const EXIT_HELP = `\nExit status:\n${(Object.keys(EXIT) as (keyof typeof EXIT)[]).map((k) => `  ${String(EXIT[k]).padStart(3)}  ${EXIT_MEANINGS[k]}`).join('\n')}`;

let debug = false;

/** `--debug`: internal errors show their stack. */
export function setDebug(on: boolean): void {
  debug = on;
}

export type OutputFormat = 'text' | 'json';

export const outputOption = (): Option =>
  new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text');

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function exitCodeFor(e: unknown): ExitStatus {
  if (!(e instanceof SluiceError)) return EXIT.internal;
  switch (e.code) {
    case 'EPERM':
      return EXIT.permission;
    case 'EBUSY':
      return EXIT.busy;
    case 'EBRIDGEFULL':
      return EXIT.invalid;
    default:
      return EXIT.kernel;
  }
}

/** One line for a bug: the stack only when asked for, so no user sees a wall of frames. */
export function describeInternal(e: unknown, withStack: boolean = debug): string {
  const error = e instanceof Error ? e : new Error(String(e));
  if (withStack) return `internal error: ${error.stack ?? error.message}`;
  const firstLine = error.message.split('\n')[0] ?? '';
  return `internal error: ${firstLine} (run with --debug for the stack)`;
}

/** Typed errors print their message and hint; anything else is a bug, one line unless --debug. */
export function reportError(e: unknown, format: OutputFormat = 'text'): ExitStatus {
  const code = exitCodeFor(e);
  if (format === 'json') printJson({ ok: false, error: { code: e instanceof SluiceError ? e.code : 'EINTERNAL', message: e instanceof SluiceError ? e.message : describeInternal(e, false), hint: e instanceof SluiceError ? e.hint : undefined } });
  else if (e instanceof SluiceError) process.stderr.write(`sluice: ${e.describe()}\n`);
  else process.stderr.write(`sluice: ${describeInternal(e)}\n`);
  if (debug && format === 'json' && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  return code;
}
