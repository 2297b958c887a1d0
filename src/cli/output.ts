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
} as const;

export type OutputFormat = 'text' | 'json';

export const outputOption = (): Option =>
  new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text');

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof SluiceError) return e.code === 'EPERM' ? EXIT.permission : EXIT.kernel;
  return EXIT.usage;
}

/** Typed errors print their message and hint; anything else is a bug and shows its stack. */
export function reportError(e: unknown, format: OutputFormat = 'text'): number {
  const code = exitCodeFor(e);
  if (format === 'json') printJson({ ok: false, error: { code: e instanceof SluiceError ? e.code : 'EINTERNAL', message: (e as Error).message, hint: e instanceof SluiceError ? e.hint : undefined } });
  else if (e instanceof SluiceError) process.stderr.write(`sluice: ${e.describe()}\n`);
  else process.stderr.write(`sluice: internal error: ${(e as Error).stack ?? String(e)}\n`);
  return code;
}

