import { describe, expect, it } from 'vitest';
import { activeWindows, applyWindows, nextTransition, nextWindowStart } from '../../src/schedule/windows';
import { parsePolicyTexts } from '../../src/policy/load';
import { readFileSync } from 'node:fs';

const load = () => {
  const files = ['policies/demo.yaml', 'policies/nightly-window.yaml'].map((path) => ({ path, text: readFileSync(path, 'utf8') }));
  const r = parsePolicyTexts(files);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
};
const at = (iso: string) => Date.parse(iso);
const UTC = { tz: 'UTC' };

describe('schedule windows (clock injected)', () => {
  const policy = load();

  it('is closed before 01:00 and opens at 01:00 for two hours', () => {
    expect(activeWindows(policy.schedules, at('2026-11-23T00:59:59Z'), UTC)).toHaveLength(0);
    expect(activeWindows(policy.schedules, at('2026-11-23T01:00:00Z'), UTC)).toHaveLength(1);
    expect(activeWindows(policy.schedules, at('2026-11-23T02:59:59Z'), UTC)).toHaveLength(1);
    expect(activeWindows(policy.schedules, at('2026-11-23T03:00:00Z'), UTC)).toHaveLength(0);
  });

  it('a daemon started in the middle of a window sees it open at once', () => {
    const open = activeWindows(policy.schedules, at('2026-11-23T02:15:00Z'), UTC);
    expect(open[0]?.openedAt).toBe(at('2026-11-23T01:00:00Z'));
    expect(open[0]?.closesAt).toBe(at('2026-11-23T03:00:00Z'));
  });

  it('applies the patches while open', () => {
    const patched = applyWindows(policy, activeWindows(policy.schedules, at('2026-11-23T01:30:00Z'), UTC));
    const backup = patched.containers.find((c) => c.name === 'backup')!;
    expect(backup.bandwidth.download).toMatchObject({ guarantee: 25e6, priority: 1 });
    expect(patched.containers.find((c) => c.name === 'batch')!.bandwidth.download.guarantee).toBe(4e6);
    expect(patched.containers.find((c) => c.name === 'web')).toEqual(policy.containers.find((c) => c.name === 'web'));
  });

  it('overlapping windows: the one opened later applies on top', () => {
    const early = { ...policy.schedules[0]!, name: 'a', cron: '0 1 * * *', patches: [{ container: 'web', bandwidth: { download: { guarantee: 5e6 as never } } }] };
    const late = { ...policy.schedules[0]!, name: 'b', cron: '30 1 * * *', patches: [{ container: 'web', bandwidth: { download: { guarantee: 7e6 as never } } }] };
    const open = activeWindows([late, early], at('2026-11-23T01:45:00Z'), UTC);
    expect(open.map((w) => w.schedule.name)).toEqual(['a', 'b']);
    expect(applyWindows(policy, open).containers.find((c) => c.name === 'web')!.bandwidth.download.guarantee).toBe(7e6);
  });

  it('knows when the next window starts and the next transition', () => {
    expect(nextWindowStart(policy.schedules[0]!, at('2026-11-23T08:00:00Z'), UTC)).toBe(at('2026-11-24T01:00:00Z'));
    expect(nextTransition(policy.schedules, at('2026-11-23T01:30:00Z'), UTC)).toBe(at('2026-11-23T03:00:00Z'));
  });
});
