// Time windows for people: which are open now and when the next one starts.
import type { Policy } from '../../policy/model';
import { activeWindows, nextWindowStart } from '../../schedule/windows';

export interface WindowsView {
  readonly open: readonly { readonly name: string; readonly closesAt: string }[];
  readonly next: readonly { readonly name: string; readonly startsAt: string }[];
}

export function windowsView(policy: Policy, nowMs: number): WindowsView {
  return {
    open: activeWindows(policy.schedules, nowMs).map((w) => ({ name: w.schedule.name, closesAt: new Date(w.closesAt).toISOString() })),
    next: policy.schedules.map((s) => ({ name: s.name, startsAt: new Date(nextWindowStart(s, nowMs)).toISOString() })),
  };
}

export function formatWindows(view: WindowsView): string {
  if (view.next.length === 0) return 'time windows: none';
  const open = view.open.length ? view.open.map((w) => `${w.name} (until ${w.closesAt})`).join(', ') : 'none';
  return `time windows: open now: ${open}; next: ${view.next.map((w) => `${w.name} at ${w.startsAt}`).join(', ')}`;
}
