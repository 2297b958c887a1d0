// The `sluice` command. Each subcommand lives in its own file under ./commands and
// registers itself here; this file only assembles them.

import 'reflect-metadata';
import { Command } from 'commander';
import { COMMANDS } from './commands';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description(
      'Per-container network bandwidth for Linux: guarantees, ceilings and priorities\n' +
        'enforced with tc/HTB, idle capacity lent by priority, every byte measured.',
    )
    .version(require('../../package.json').version as string)
    .showHelpAfterError('(run `sluice <command> --help` for usage)')
    .configureHelp({ sortSubcommands: false });
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
