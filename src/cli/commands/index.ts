// The order here is the order `sluice --help` lists the commands in.
import type { Command } from 'commander';
import { registerApply } from './apply';
import { registerDemo } from './demo';
import { registerDestroy } from './destroy';
import { registerInspect } from './inspect';
import { registerPlan } from './plan';
import { registerTop } from './top';
import { registerServe } from './serve';
import { registerStatus } from './status';
import { registerValidate } from './validate';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [registerDemo, registerValidate, registerPlan, registerApply, registerDestroy, registerServe, registerStatus, registerTop, registerInspect];
