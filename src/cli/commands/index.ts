// The order here is the order `sluice --help` lists the commands in.
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [];
