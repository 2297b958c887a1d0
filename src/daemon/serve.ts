// `sluice serve`: the reconciler on a timer, policy reloads (whenever the policy loader's
// sources change: files, workload events; SIGHUP), schedule windows opened and closed
// on time (node-cron), the control socket.
// Stopping leaves enforcement in place; `destroy` is a separate, explicit act.

import type { Server } from 'node:net';
import cron, { type ScheduledTask } from 'node-cron';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { PolicyLoad, PolicyLoader } from '../sources/loader';
import type { Stop } from '../sources/source';
import { SluiceError } from '../errors';
import { formatPolicyIssue } from '../policy/load';
import type { Policy } from '../policy/model';
import type { Reconciler, TickResult } from '../reconcile/reconciler';
import { activeWindows, nextWindowStart } from '../schedule/windows';
import type { UnshapedWorkload } from '../sources/source';
import { minorFaults, startCostMeter } from './answerCost';
import { answerCni } from './cni';
import { serveControl, wallMs, type ControlArrival, type ControlRequest } from './control';

export interface DaemonOptions {
  /** The policy paths, for the log (the loader reads and follows them). */
  readonly paths: readonly string[];
  readonly tickMs: number;
  readonly controlSocket?: string;
  readonly tz?: string;
  /**
   * What each ADD's answer cost serve (CPU, page faults, GC), in its debug log: 'cost', or
   * 'schedstat' for that and how long its threads waited for a CPU (~0.5 ms more per
   * answer: ANSWER_SCHEDSTAT_ENV=1, bench/idleAdd). Absent: not measured (a GC observer
   * and counter reads per answer, for a log line nobody reads).
   */
  readonly answerCost?: 'cost' | 'schedstat';
  /** TICK_AFTER_CHANGE_MS and TICK_AFTER_CHANGE_MAX_MS unless given (a test holds the tick off). */
  readonly tickAfterChange?: TickAfterChange;
}

export interface DaemonHooks {
  /** Called after every tick (metrics). */
  onTick?(result: TickResult): void;
  onReloadFailure?(): void;
  /** Called with the workloads found and not shaped, after every load (metrics). */
  onUnshaped?(unshaped: readonly UnshapedWorkload[]): void;
  /** Called once a change applied before its tick has been answered (its ADD's reply written): serve is idle until the next. */
  onAnswered?(): void;
}

/**
 * After a change applied before its tick (a pod's ADD), how long serve waits for
 * another before it observes and repairs: a burst of ADDs costs one tick after it, not
 * one each (each ADD would otherwise wait behind the tick of the one before it).
 */
export const TICK_AFTER_CHANGE_MS = 250;
/** The longest a tick is put off by changes that keep coming (the timer's tick also runs). */
export const TICK_AFTER_CHANGE_MAX_MS = 1000;

/** When the tick after a change runs: once none came for `quietMs`, at most `maxMs` after the first. */
export interface TickAfterChange {
  readonly quietMs: number;
  readonly maxMs: number;
}

/** A reload asked for and not started yet: later asks join it. */
interface QueuedReload {
  readonly reasons: string[];
  done: Promise<boolean>;
  /** Some ask wants the change applied before the tick (a pod's ADD). */
  change: boolean;
  /** Settled once the change is applied, or could not be, or the reload failed. */
  readonly shaped: Promise<void>;
  readonly settle: () => void;
  /** When it was asked for (monotonic ms), for the ADD's timing. */
  readonly askedAt: number;
}

/** `sluice serve --log-level debug` with this set to 1: answerSchedstat. */
export const ANSWER_SCHEDSTAT_ENV = 'SLUICE_ANSWER_SCHEDSTAT';

export class Daemon {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private cronTasks: ScheduledTask[] = [];
  private windowTimers: NodeJS.Timeout[] = [];
  private control: Server | undefined;
  private stopFollowing: Stop | undefined;
  private reloads: Promise<boolean> = Promise.resolve(true);
  /** Reloads asked for and not finished (status's tickDue). */
  private reloadsPending = 0;
  private queued: QueuedReload | undefined;
  private unshaped: readonly UnshapedWorkload[] = [];
  /** The tick put off after changes, and when the first of them was applied. */
  private changeTick: { readonly timer: NodeJS.Timeout; readonly since: number } | undefined;
  private readonly onHup = (): void => void this.reload('SIGHUP');

  constructor(
    private readonly reconciler: Reconciler,
    private readonly source: PolicyLoader,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: DaemonOptions,
    private readonly hooks: DaemonHooks = {},
  ) {}

  /** Loads the policy (a bad one at start is fatal: there is no last good one yet). */
  async start(initial: Policy, unshaped: readonly UnshapedWorkload[] = []): Promise<void> {
    this.reconciler.setPolicy(initial);
    this.setUnshaped(unshaped);
    this.armSchedules(initial);
    this.stopFollowing = this.source.follow((reason) => void this.reloadSoon(reason));
    process.on('SIGHUP', this.onHup);
    if (this.options.controlSocket) this.control = await serveControl(this.options.controlSocket, (r, at) => this.handle(r, at));
    this.logger.log('info', 'started', { tickMs: this.options.tickMs, paths: this.options.paths, controlSocket: this.options.controlSocket });
    await this.runTick();
    this.scheduleNext();
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runTick().finally(() => this.scheduleNext());
    }, this.options.tickMs);
  }

  /**
   * One tick. Never rejects: the reconciler turns every failure it expects into the
   * tick's result, and anything else (a bug in a hook or before the tick's own handling)
   * is logged as such and returned as a failed tick. Timers, cron windows and reloads
   * start ticks without awaiting them, and a rejection there would end serve (Node's
   * unhandled rejection) while its shaping stays in the kernel unwatched.
   */
  async runTick(): Promise<TickResult> {
    const at = this.clock.now();
    try {
      const result = await this.reconciler.tick();
      this.logger.log('debug', 'tick', { durationMs: result.durationMs, operations: result.operations });
      this.hooks.onTick?.(result);
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.logger.log('error', 'tick failed unexpectedly (a bug in Sluice: please report it with this log); serve keeps ticking', { error: message, stack: e instanceof Error ? e.stack : undefined });
      return { at, durationMs: this.clock.now() - at, operations: 0, driftRepairs: 0, windows: [], error: { kind: 'transient', message, code: 'EINTERNAL' } };
    }
  }

  /**
   * Reloads run one after another, each reading the files and the workload sources
   * afresh: a burst of events can never leave an older view in force after a newer one.
   */
  reload(reason: string): Promise<boolean> {
    return this.afterReloads(() => this.reloadNow(reason));
  }

  /** `run` once the reloads asked for before it are done; counted as pending from now until it ends. */
  private afterReloads(run: () => Promise<boolean>): Promise<boolean> {
    this.reloadsPending++;
    const next = this.reloads.then(run).finally(() => {
      this.reloadsPending--;
    });
    this.reloads = next.catch(() => false);
    return next;
  }

  /**
   * A reload asked for has not finished, or the policy it set has not been read by a
   * finished tick: an operator's change is not yet observed and repaired (status).
   */
  get tickDue(): boolean {
    return this.reloadsPending > 0 || this.reconciler.awaitingTick;
  }

  /**
   * A source changed (a CNI ADD, DEL or GC poking the control socket): joins a reload
   * that is queued and has not started yet, since it will read the change too. 100
   * parallel ADDs cost a few reloads, not 100.
   */
  reloadSoon(reason: string): Promise<boolean> {
    return this.enqueue(reason).done;
  }

  /**
   * As reloadSoon, and the reload applies the change before its tick, without observing
   * (Reconciler.applyChange): settled once that is done (or could not be), before the tick.
   * serve answers a pod's ADD then, so that the pod is shaped when its ADD returns.
   */
  shapeSoon(reason: string): Promise<void> {
    const queued = this.enqueue(reason);
    queued.change = true;
    return queued.shaped;
  }

  private enqueue(reason: string): QueuedReload {
    if (this.queued) {
      this.queued.reasons.push(reason);
      return this.queued;
    }
    let settle = (): void => undefined;
    const shaped = new Promise<void>((resolve) => (settle = resolve));
    const queued: QueuedReload = { reasons: [reason], done: Promise.resolve(false), change: false, shaped, settle: () => settle(), askedAt: this.clock.monotonic() };
    this.queued = queued;
    queued.done = this.afterReloads(async () => {
      this.queued = undefined;
      try {
        return await this.reloadNow(queued.reasons.join(', '), queued.change ? queued : undefined);
      } finally {
        queued.settle();
      }
    });
    return queued;
  }

  /**
   * `changed`: apply the change without observing first, then settle its wait. A change
   * the kernel took in full leaves the tick to tickAfterChange; any other runs it here.
   */
  private async reloadNow(reason: string, changed?: QueuedReload): Promise<boolean> {
    const startedAt = this.clock.monotonic();
    // Page faults cost ~13 µs each on a Firecracker VM: which phase took them, when answers are measured.
    const measured = this.options.answerCost !== undefined;
    const faultsAtStart = measured ? minorFaults() : 0;
    let loaded: PolicyLoad;
    try {
      loaded = await this.source.load();
    } catch (e) {
      if (!(e instanceof SluiceError)) throw e;
      this.hooks.onReloadFailure?.();
      this.logger.log('warn', 'policy reload failed; keeping the last good policy', { reason, error: e.message, hint: e.hint });
      return false;
    }
    if (!loaded.ok) {
      this.hooks.onReloadFailure?.();
      this.logger.log('error', 'policy reload failed; keeping the last good policy', { reason, issues: loaded.issues.map(formatPolicyIssue) });
      return false;
    }
    this.reconciler.setPolicy(loaded.policy);
    this.setUnshaped(loaded.unshaped);
    this.armSchedules(loaded.policy);
    this.logger.log('info', 'policy reloaded', { reason, containers: loaded.policy.containers.length, ...(loaded.waiting.length > 0 ? { waiting: loaded.waiting } : {}) });
    if (changed) {
      const loadedAt = this.clock.monotonic();
      const faultsAtLoad = measured ? minorFaults() : 0;
      const change = await this.reconciler.applyChange();
      changed.settle();
      // After the reply's write, which the settle's promise chain issues first.
      setImmediate(() => this.hooks.onAnswered?.());
      const faults = measured ? { faults: { load: faultsAtLoad - faultsAtStart, change: minorFaults() - faultsAtLoad } } : {};
      this.logger.log('debug', 'change applied before the tick', { reason, queuedMs: startedAt - changed.askedAt, loadMs: loadedAt - startedAt, ...faults, ...change });
      if (change.skipped === undefined && change.error === undefined) {
        this.tickAfterChange();
        return true;
      }
    }
    await this.runTick();
    return true;
  }

  /** One tick once changes stop coming for TICK_AFTER_CHANGE_MS, and no later than TICK_AFTER_CHANGE_MAX_MS after the first. */
  private tickAfterChange(): void {
    if (this.stopped) return;
    const { quietMs, maxMs } = this.options.tickAfterChange ?? { quietMs: TICK_AFTER_CHANGE_MS, maxMs: TICK_AFTER_CHANGE_MAX_MS };
    const now = this.clock.monotonic();
    const since = this.changeTick?.since ?? now;
    if (this.changeTick) clearTimeout(this.changeTick.timer);
    const timer = setTimeout(() => {
      this.changeTick = undefined;
      void this.runTick();
    }, Math.max(0, Math.min(quietMs, since + maxMs - now)));
    this.changeTick = { timer, since };
  }

  /** Said when it changes, not at every reload (every CNI ADD reloads). */
  private setUnshaped(unshaped: readonly UnshapedWorkload[]): void {
    if (JSON.stringify(unshaped) !== JSON.stringify(this.unshaped) && unshaped.length > 0) this.logger.log('warn', 'workloads not shaped', { workloads: unshaped });
    this.unshaped = unshaped;
    this.hooks.onUnshaped?.(unshaped);
  }

  /** node-cron opens each window on time; a timer closes it; a tick applies either. */
  private armSchedules(policy: Policy): void {
    for (const t of this.cronTasks) void t.stop();
    for (const t of this.windowTimers) clearTimeout(t);
    this.cronTasks = [];
    this.windowTimers = [];
    const tzOption = this.options.tz ? { timezone: this.options.tz } : {};
    for (const schedule of policy.schedules) {
      this.cronTasks.push(
        cron.schedule(schedule.cron, () => {
          this.logger.log('info', 'window opens', { schedule: schedule.name });
          void this.runTick();
          this.windowTimers.push(setTimeout(() => void this.closeWindow(schedule.name), schedule.duration * 1000));
        }, tzOption),
      );
    }
    // A window already open at start (or reload) closes on time too.
    for (const w of activeWindows(policy.schedules, this.clock.now(), this.options.tz ? { tz: this.options.tz } : {})) {
      this.windowTimers.push(setTimeout(() => void this.closeWindow(w.schedule.name), Math.max(0, w.closesAt - this.clock.now())));
    }
    for (const s of policy.schedules) this.logger.log('debug', 'window armed', { schedule: s.name, next: new Date(nextWindowStart(s, this.clock.now(), this.options.tz ? { tz: this.options.tz } : {})).toISOString() });
  }

  private async closeWindow(name: string): Promise<void> {
    this.logger.log('info', 'window closes', { schedule: name });
    await this.runTick();
  }

  /** Stops following file changes (workload events, SIGHUP and the control socket still reload). */
  stopWatching(): void {
    this.source.stopFollowingFiles();
  }

  private async handle(request: ControlRequest, arrival?: ControlArrival): Promise<unknown> {
    const state = this.reconciler.current;
    switch (request.cmd) {
      case 'status':
        return { snapshot: state.snapshot, lastTick: state.lastTick, tickDue: this.tickDue, policyHost: state.policy?.host.name, unshaped: this.unshaped };
      case 'inspect': {
        const container = state.compiled?.containers.find((c) => c.name === request.container || c.workload?.name === request.container);
        return {
          container,
          snapshot: state.snapshot?.rows.filter((r) => r.container === request.container || r.workload === request.container),
          peers: container ? state.snapshot?.peers?.filter((r) => r.container === container.name) : undefined,
          unshaped: this.unshaped.filter((u) => u.workload === request.container),
        };
      }
      case 'reload':
        return { reloaded: await this.reload('control socket') };
      case 'tick':
        return this.runTick();
      case 'sources-changed':
        void this.reloadSoon(request.reason);
        return { queued: true };
      case 'cni': {
        const handledAt = wallMs();
        const measured = this.options.answerCost;
        const cost = measured === undefined ? undefined : startCostMeter({ schedstat: measured === 'schedstat' });
        const startedAt = this.clock.monotonic();
        let pokedAt: number | undefined;
        const shapeSoon = (reason: string): Promise<void> => {
          pokedAt = this.clock.monotonic();
          return this.shapeSoon(reason);
        };
        const reply = await answerCni(request, { reloadSoon: (reason) => void this.reloadSoon(reason), shapeSoon });
        if (pokedAt !== undefined) {
          const fields = { container: request.env['CNI_CONTAINERID'], totalMs: this.clock.monotonic() - startedAt, recordMs: pokedAt - startedAt, shapeMs: this.clock.monotonic() - pokedAt, atMs: { connected: arrival?.connectedAt, received: arrival?.receivedAt, handled: handledAt, answered: wallMs() } };
          if (cost) cost.finish((spent) => this.logger.log('debug', 'cni ADD answered', { ...fields, ...spent }));
          else this.logger.log('debug', 'cni ADD answered', fields);
        }
        return reply;
      }
      default:
        throw new Error(`unknown request ${JSON.stringify(request)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopFollowing?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.changeTick) clearTimeout(this.changeTick.timer);
    for (const t of this.cronTasks) void t.stop();
    for (const t of this.windowTimers) clearTimeout(t);
    process.off('SIGHUP', this.onHup);
    if (this.control) await new Promise<void>((resolve) => this.control!.close(() => resolve()));
    this.logger.log('info', 'stopped; enforcement stays in place (sluice destroy removes it)');
  }
}
