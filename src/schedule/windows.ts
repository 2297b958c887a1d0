// Time windows: which schedules are open at a given instant and the policy in force
// then. Pure (time is an argument), so tests step the clock instead of waiting.
//
// Overlapping windows compose in a defined order: the window that opened earlier
// applies first, the later one on top (ties by schedule name), so the most recently
// opened window wins for any field both patch.

import { CronExpressionParser } from 'cron-parser';
import type { Policy, SchedulePolicy } from '../policy/model';
import { applyPatches } from '../policy/patch';

export interface OpenWindow {
  readonly schedule: SchedulePolicy;
  /** Epoch ms the window opened and will close. */
  readonly openedAt: number;
  readonly closesAt: number;
}

export interface WindowOptions {
  /** IANA time zone the cron expressions are read in; default: the machine's. */
  readonly tz?: string;
}

const tzOf = (o: WindowOptions): string => o.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The most recent start of `schedule` at or before `nowMs`. */
export function lastStart(schedule: SchedulePolicy, nowMs: number, options: WindowOptions = {}): number {
  const expr = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(nowMs + 1), tz: tzOf(options) });
  return expr.prev().getTime();
}

export function nextWindowStart(schedule: SchedulePolicy, nowMs: number, options: WindowOptions = {}): number {
  const expr = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(nowMs), tz: tzOf(options) });
  return expr.next().getTime();
}

export function activeWindows(schedules: readonly SchedulePolicy[], nowMs: number, options: WindowOptions = {}): OpenWindow[] {
  return schedules
    .map((schedule) => {
      const openedAt = lastStart(schedule, nowMs, options);
      return { schedule, openedAt, closesAt: openedAt + schedule.duration * 1000 };
    })
    .filter((w) => w.openedAt <= nowMs && nowMs < w.closesAt)
    .sort((a, b) => a.openedAt - b.openedAt || a.schedule.name.localeCompare(b.schedule.name));
}

/** The policy with the open windows' patches applied, in window order. */
export function applyWindows(policy: Policy, open: readonly OpenWindow[]): Policy {
  const containers = open.reduce((cs, w) => applyPatches(cs, w.schedule.patches), policy.containers);
  return { ...policy, containers };
}

/** When something next changes: a window opening or an open one closing. */
export function nextTransition(schedules: readonly SchedulePolicy[], nowMs: number, options: WindowOptions = {}): number | undefined {
  const times = [
    ...schedules.map((s) => nextWindowStart(s, nowMs, options)),
    ...activeWindows(schedules, nowMs, options).map((w) => w.closesAt),
  ];
  return times.length ? Math.min(...times) : undefined;
}
