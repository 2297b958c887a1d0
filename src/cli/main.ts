// The `sluice` command. Each subcommand lives in its own file under ./commands and
// registers itself here; this file only assembles them.

import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands';
import { EXIT, EXIT_HELP, setDebug } from './output';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description(
      'Per-container network bandwidth for Linux: guarantees, ceilings and priorities\n' +
        'enforced with tc/HTB, idle capacity lent by priority, every byte measured.',
    )
    .version(require('../../package.json').version as string)
    .showHelpAfterError('(run `sluice <command> --help` for usage)')
    .configureHelp({ sortSubcommands: false })
    .option('--debug', 'show the stack of an internal error (a bug: please report it with the stack)', false)
    // Before the commands are added: they inherit it, so a usage error exits 2 (README), not commander's 1.
    .exitOverride()
    .addHelpText('after', EXIT_HELP);
  program.hook('preAction', (root) => setDebug((root.opts() as { debug: boolean }).debug));
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // Commander has already printed the problem (and --help/--version their text).
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}
