// The order here is the order `sluice --help` lists the commands in.
import type { Command } from 'commander';
import { registerPlan } from './plan';
import { registerValidate } from './validate';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [registerValidate, registerPlan];
