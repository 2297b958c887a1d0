// Output and exit codes shared by every command, so scripts can rely on them.

import { Option } from 'commander';
import { SluiceError } from '../errors';

/** Documented in `sluice --help` and the README. */
export const EXIT = {
  ok: 0,
  /** The policy has errors, or a check (demo verdict) failed. */
  invalid: 1,
  usage: 2,
  /** The kernel refused an operation. */
  kernel: 3,
  /** Root / CAP_NET_ADMIN needed. */
  permission: 4,
  /** Another Sluice process (named in the message) writes to this host. */
  busy: 5,
} as const;

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

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof SluiceError)) return EXIT.usage;
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
export function reportError(e: unknown, format: OutputFormat = 'text'): number {
  const code = exitCodeFor(e);
  if (format === 'json') printJson({ ok: false, error: { code: e instanceof SluiceError ? e.code : 'EINTERNAL', message: e instanceof SluiceError ? e.message : describeInternal(e, false), hint: e instanceof SluiceError ? e.hint : undefined } });
  else if (e instanceof SluiceError) process.stderr.write(`sluice: ${e.describe()}\n`);
  else process.stderr.write(`sluice: ${describeInternal(e)}\n`);
  if (debug && format === 'json' && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  return code;
}
