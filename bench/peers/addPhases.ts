// Where serve's part of each ADD went, from its debug log (`--timings`): the plugin's
// record (parse, write, fsync), the wait for earlier reloads, the policy load, then the
// change (compile and diff, the ownership record, netlink) until the answer.

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

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const p90 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))] ?? Number.NaN;

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
  const skipped = changed.filter((e) => e.skipped !== undefined).length;
  return [
    `serve's part of ${answered.length} ADDs (${changed.length} reloads with a change, ${skipped} skipped), ms: median / p90`,
    ...rows.map(([name, xs]) => `${name.padEnd(36)} ${median(xs).toFixed(1).padStart(6)} / ${p90(xs).toFixed(1)}`),
  ].join('\n');
}
