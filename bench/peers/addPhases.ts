// Where serve's part of each ADD went, from its debug log (`--timings`): the plugin's
// record (parse, write, rename), the wait for earlier reloads, the policy load, then the
// change (compile and diff, the ownership record, netlink) until the answer.

import { median, p90 } from '../stats';

/** Now in wall-clock ms with fractions, as serve's atMs (performance.timeOrigin-based). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** The sluice plugin's runs by container: when the bench spawned it (nsenter) and saw it exit (wallMs). */
export const pluginRuns = new Map<string, { readonly startedAt: number; readonly endedAt: number }>();

/** The two debug events serve logs per ADD (src/daemon/serve.ts); bench/idleAdd reads them too. */
export interface Answered {
  readonly event: 'cni ADD answered';
  readonly container: string;
  /** Wall-clock ms (serve's ControlArrival): its connection, its line complete, handle started, answer written. */
  readonly atMs?: { readonly connected?: number; readonly received?: number; readonly handled: number; readonly answered: number };
  readonly totalMs: number;
  /** serve's CPU time (user + system) while it answered: steadier than the wall time on a busy machine. */
  readonly cpuMs?: number;
  readonly recordMs: number;
  readonly shapeMs: number;
  /** serve's page faults (all its threads) and V8 collections during the answer (src/daemon/answerCost.ts). */
  readonly minorFaults?: number;
  readonly gcCount?: number;
  readonly gcMs?: number;
  /** perf_hooks' NODE_PERFORMANCE_GC_* kind of each collection. */
  readonly gcKinds?: readonly number[];
  /** New-space KiB the answer allocated (absent when a collection ran meanwhile). */
  readonly newSpaceKb?: number;
  readonly runQueueMs?: number;
}
export interface Changed {
  readonly event: 'change applied before the tick';
  readonly queuedMs: number;
  readonly loadMs: number;
  readonly durationMs: number;
  /** Page faults in the load and in the change. */
  readonly faults?: { readonly load: number; readonly change: number };
  readonly phasesMs?: Readonly<Record<string, number>>;
  readonly skipped?: string;
}

/** serve's tick (src/daemon/serve.ts runTick). */
interface Tick {
  readonly event: 'tick';
  readonly durationMs: number;
}


/** serve's JSON log lines (others, such as --trace-gc's, skipped). */
export function logEvents(log: string): { readonly event?: string }[] {
  return log.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as { event?: string }];
    } catch {
      return [];
    }
  });
}

/** serve's two events per ADD, each in log order. */
export function addEvents(events: readonly { readonly event?: string }[]): { answered: Answered[]; changed: Changed[] } {
  return {
    answered: events.filter((e): e is Answered => e.event === 'cni ADD answered'),
    changed: events.filter((e): e is Changed => e.event === 'change applied before the tick'),
  };
}

/** One line per phase: median and p90 over the log's ADDs. */
export function addPhases(log: string): string {
  const events = logEvents(log);
  const { answered, changed } = addEvents(events);
  const rows: [string, number[]][] = [
    ['ADD in serve, in all', answered.map((e) => e.totalMs)],
    ['  serve\'s CPU time meanwhile', answered.map((e) => e.cpuMs ?? Number.NaN)],
    ['  GC meanwhile', answered.map((e) => e.gcMs ?? Number.NaN)],
    ['  serve\'s threads waiting for a CPU', answered.map((e) => e.runQueueMs ?? Number.NaN)],
    ['  record (parse, write, rename)', answered.map((e) => e.recordMs)],
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
  const phase = (i: number, name: string): string => (changed[i]!.phasesMs?.[name] ?? 0).toFixed(1);
  const lastOne = paired && last >= 0
    ? [`the last ${Math.min(5, last + 1)} ADDs (one more pod each), ms: in all, record, policy load, change (plan, ownership record, netlink), the rest; serve's page faults, GC (count/ms) and its threads' wait for a CPU (ms) meanwhile`, ...answered.slice(-5).map((a, j) => {
        const i = last - Math.min(5, last + 1) + 1 + j;
        return `  ${a.totalMs.toFixed(1)}, ${a.recordMs.toFixed(1)}, ${changed[i]!.loadMs.toFixed(1)}, ${changed[i]!.durationMs.toFixed(1)} (${phase(i, 'plan')}, ${phase(i, 'record')}, ${phase(i, 'execute')}), ${rest(i).toFixed(1)}; ${a.minorFaults ?? '-'} faults, GC ${a.gcCount ?? '-'}/${(a.gcMs ?? 0).toFixed(1)}, waiting for a CPU ${a.runQueueMs?.toFixed(1) ?? '-'}`;
      })]
    : [];
  return [
    ...spans(answered),
    `serve's part of ${answered.length} ADDs (${changed.length} reloads with a change, ${skipped} skipped), ms: median / p90`,
    ...rows.map(([name, xs]) => `${name.padEnd(36)} ${median(xs).toFixed(1).padStart(6)} / ${p90(xs).toFixed(1)}`),
    ...lastOne,
    `answers with a GC in them: ${answered.filter((a) => (a.gcCount ?? 0) > 0).length} of ${answered.length}`,
    // Its ticks (observe, diff, repair) share the two cores with the runtime's plugins.
    `serve's ticks: ${ticks.length}, ${ticks.reduce((sum, t) => sum + t.durationMs, 0).toFixed(0)} ms in all, median ${median(ticks.map((t) => t.durationMs)).toFixed(1)} / p90 ${p90(ticks.map((t) => t.durationMs)).toFixed(1)} ms`,
  ].join('\n');
}

/**
 * The whole plugin run, from the bench's spawn to its exit seen, split at serve's
 * timestamps: before serve sees it (the runtime's spawn, nsenter, the shim's start, its
 * connect), serve's event loop picking the line up, serve's part, and after the answer
 * (the shim's read and exit, the bench's wait). For every ADD and for the last ONE_MORE.
 */
function spans(answered: readonly Answered[]): string[] {
  const timed = answered.flatMap((a) => {
    const run = pluginRuns.get(a.container);
    const at = a.atMs;
    if (!run || !at || at.connected === undefined || at.received === undefined) return [];
    return [[run.endedAt - run.startedAt, at.connected - run.startedAt, at.received - at.connected, at.handled - at.received, at.answered - at.handled, run.endedAt - at.answered]];
  });
  if (timed.length === 0) return [];
  const names = ['plugin run, in all', '  spawn until serve accepts', '  accepted until its line', '  line until handled', '  serve answering', '  answer until exit seen'];
  const last = timed.slice(-5);
  return [
    `the sluice plugin's runs (bench's spawn to exit seen), ms: median / p90 of ${timed.length}; median of the last ${last.length}`,
    ...names.map((name, i) => `${name.padEnd(36)} ${median(timed.map((t) => t[i]!)).toFixed(1).padStart(6)} / ${p90(timed.map((t) => t[i]!)).toFixed(1)}; ${median(last.map((t) => t[i]!)).toFixed(1)}`),
  ];
}
