// Where serve's part of each ADD went, from its debug log (`--timings`): the plugin's
// record (parse, write, fsync), the wait for earlier reloads, the policy load, then the
// change (compile and diff, the ownership record, netlink) until the answer.

import { median, p90 } from '../stats';

/** The two debug events serve logs per ADD (src/daemon/serve.ts). */
interface Answered {
  readonly event: 'cni ADD answered';
  readonly totalMs: number;
  readonly recordMs: number;
  readonly shapeMs: number;
}
interface Changed {
  readonly event: 'change applied before the tick';
  readonly queuedMs: number;
  readonly loadMs: number;
  readonly durationMs: number;
  readonly phasesMs?: Readonly<Record<string, number>>;
  readonly skipped?: string;
}

/** serve's tick (src/daemon/serve.ts runTick). */
interface Tick {
  readonly event: 'tick';
  readonly durationMs: number;
}


/** One line per phase: median and p90 over the log's ADDs. */
export function addPhases(log: string): string {
  const events = log.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as { event?: string }];
    } catch {
      return [];
    }
  });
  const answered = events.filter((e): e is Answered => e.event === 'cni ADD answered');
  const changed = events.filter((e): e is Changed => e.event === 'change applied before the tick');
  const rows: [string, number[]][] = [
    ['ADD in serve, in all', answered.map((e) => e.totalMs)],
    ['  record (parse, write, fsync)', answered.map((e) => e.recordMs)],
    ['  until shaped (below)', answered.map((e) => e.shapeMs)],
    ['    queued behind earlier reloads', changed.map((e) => e.queuedMs)],
    ['    policy load', changed.map((e) => e.loadMs)],
    ['    change in all', changed.map((e) => e.durationMs)],
    ['      compile and plan', changed.map((e) => e.phasesMs?.['plan'] ?? 0)],
    ['      ownership record', changed.map((e) => e.phasesMs?.['record'] ?? 0)],
    ['      netlink', changed.map((e) => e.phasesMs?.['execute'] ?? 0)],
  ];
  // Paired when each ADD had its own reload (one after another, as the bench runs them).
  const paired = answered.length === changed.length;
  // What the phases do not cover: a tick the change waited for (Reconciler.applyChange), the reload's own steps.
  const rest = (i: number): number => answered[i]!.shapeMs - changed[i]!.queuedMs - changed[i]!.loadMs - changed[i]!.durationMs;
  if (paired) rows.push(['    the rest (a running tick waited for)', answered.map((_, i) => rest(i))]);
  const ticks = events.filter((e): e is Tick => e.event === 'tick');
  const skipped = changed.filter((e) => e.skipped !== undefined).length;
  const last = answered.length - 1;
  const lastOne = paired && last >= 0
    ? [`the last ADD (one more pod), ms: in all ${answered[last]!.totalMs.toFixed(1)}, record ${answered[last]!.recordMs.toFixed(1)}, policy load ${changed[last]!.loadMs.toFixed(1)}, change ${changed[last]!.durationMs.toFixed(1)}, the rest ${rest(last).toFixed(1)}`]
    : [];
  return [
    `serve's part of ${answered.length} ADDs (${changed.length} reloads with a change, ${skipped} skipped), ms: median / p90`,
    ...rows.map(([name, xs]) => `${name.padEnd(36)} ${median(xs).toFixed(1).padStart(6)} / ${p90(xs).toFixed(1)}`),
    ...lastOne,
    // Its ticks (observe, diff, repair) share the two cores with the runtime's plugins.
    `serve's ticks: ${ticks.length}, ${ticks.reduce((sum, t) => sum + t.durationMs, 0).toFixed(0)} ms in all, median ${median(ticks.map((t) => t.durationMs)).toFixed(1)} / p90 ${p90(ticks.map((t) => t.durationMs)).toFixed(1)} ms`,
  ].join('\n');
}
