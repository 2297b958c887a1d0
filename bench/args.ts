// The argument check every bench script runs before anything else: most benches build
// namespaces, start daemons and drive traffic (under the kernel lock), so `--help` or a typo
// must print the usage and stop, never start a run with the defaults.

/** What a bench script accepts. */
export interface BenchArgs {
  /** The script's name under bench/ without its extension, e.g. `peers`. */
  readonly name: string;
  readonly usage: string;
  /** Options that stand alone, e.g. `--quick`. */
  readonly switches?: readonly string[];
  /** Options followed by a value, e.g. `--links 5,10` (the value is not checked here). */
  readonly valued?: readonly string[];
  /** Options followed by a number ≥ 0, e.g. `--draws 30`: `--draws x` is refused, not run as NaN draws. */
  readonly numbers?: readonly string[];
  /** The positional arguments the script reads (none when absent). */
  readonly positionals?: Positionals;
}

/** Up to `max` arguments that are not options, each matching `pattern` (e.g. a count). */
export interface Positionals {
  readonly max: number;
  readonly pattern: RegExp;
}

/** What the check decided: run the bench, or print and exit with `status`. */
export type ArgsVerdict =
  | { readonly kind: 'run' }
  | { readonly kind: 'help'; readonly status: 0; readonly text: string }
  | { readonly kind: 'refused'; readonly status: 2; readonly text: string };

/** Decides on `args` (argv after the script) without printing or exiting. */
export function checkArgs(spec: BenchArgs, args: readonly string[]): ArgsVerdict {
  if (args.includes('--help') || args.includes('-h')) return { kind: 'help', status: 0, text: spec.usage };
  const numbers = spec.numbers ?? [];
  const valued = [...(spec.valued ?? []), ...numbers];
  const switches = spec.switches ?? [];
  const unknown: string[] = [];
  const positionals = spec.positionals ?? { max: 0, pattern: /^$/ };
  let taken = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (valued.includes(arg)) {
      if (i + 1 >= args.length) return refused(spec, `${arg} takes a value`);
      const value = args[++i]!;
      if (numbers.includes(arg) && !isCount(value)) return refused(spec, `${arg} takes a number ≥ 0 (got ${value})`);
    } else if (switches.includes(arg)) continue;
    else if (taken < positionals.max && positionals.pattern.test(arg)) taken++;
    else unknown.push(arg);
  }
  return unknown.length === 0 ? { kind: 'run' } : refused(spec, `unknown option ${unknown.join(' ')}`);
}

const isCount = (text: string): boolean => /^\d+(\.\d+)?$/.test(text);

/** The value given after option `name`, or `fallback` when it is absent (checkArgs has seen that a value follows). */
export function optionValue(name: string, fallback: string, args: readonly string[] = process.argv.slice(2)): string {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}

/** A `numbers` option's value (checkArgs has refused one that is not a number), or `fallback`. */
export const numberOption = (name: string, fallback: number, args: readonly string[] = process.argv.slice(2)): number => Number(optionValue(name, String(fallback), args));

function refused(spec: BenchArgs, why: string): ArgsVerdict {
  return { kind: 'refused', status: 2, text: `bench/${spec.name}: ${why}\n${spec.usage}` };
}

/** Checks this process's arguments: prints the usage and exits on `--help` (0) or an unknown option (2). */
export function exitUnlessRunnable(spec: BenchArgs, args: readonly string[] = process.argv.slice(2)): void {
  const verdict = checkArgs(spec, args);
  switch (verdict.kind) {
    case 'run':
      return;
    case 'help':
      console.log(verdict.text);
      process.exit(verdict.status);
    case 'refused':
      console.error(verdict.text);
      process.exit(verdict.status);
  }
}
