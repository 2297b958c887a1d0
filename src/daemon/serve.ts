// `sluice serve`: the reconciler on a timer, policy reloads (file changes, SIGHUP),
// schedule windows opened and closed on time (node-cron), the control socket.
// Stopping leaves enforcement in place; `destroy` is a separate, explicit act.

import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import type { Server } from 'node:net';
import cron, { type ScheduledTask } from 'node-cron';
import type { Clock, Logger } from '../app/tokens';
import { DockerFollower } from '../docker/follow';
import type { PolicySource, PolicySourceResult } from '../docker/policySource';
import { SluiceError } from '../errors';
import { formatPolicyIssue } from '../policy/load';
import type { Policy } from '../policy/model';
import type { Reconciler, TickResult } from '../reconcile/reconciler';
import { activeWindows, nextWindowStart } from '../schedule/windows';
import { serveControl, type ControlRequest } from './control';

export interface DaemonOptions {
  /** Watched for changes; the source reads them (and Docker, for a Docker host). */
  readonly paths: readonly string[];
  readonly tickMs: number;
  readonly controlSocket?: string;
  readonly tz?: string;
}

export interface DaemonHooks {
  /** Called after every tick (metrics). */
  onTick?(result: TickResult): void;
  onReloadFailure?(): void;
}

export class Daemon {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private cronTasks: ScheduledTask[] = [];
  private windowTimers: NodeJS.Timeout[] = [];
  private control: Server | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private follower: { endpoint: string; follower: DockerFollower } | undefined;
  private reloads: Promise<boolean> = Promise.resolve(true);
  private queued: { reasons: string[]; done: Promise<boolean> } | undefined;
  private cniWatch: { dir: string; watcher: FSWatcher } | undefined;
  private readonly onHup = (): void => void this.reload('SIGHUP');

  constructor(
    private readonly reconciler: Reconciler,
    private readonly source: PolicySource,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: DaemonOptions,
    private readonly hooks: DaemonHooks = {},
  ) {}

  /** Loads the policy (a bad one at start is fatal: there is no last good one yet). */
  async start(initial: Policy): Promise<void> {
    this.reconciler.setPolicy(initial);
    this.armSchedules(initial);
    this.followDocker(initial);
    this.followCni(initial);
    this.watchPolicies();
    process.on('SIGHUP', this.onHup);
    if (this.options.controlSocket) this.control = await serveControl(this.options.controlSocket, (r) => this.handle(r));
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

  async runTick(): Promise<TickResult> {
    const result = await this.reconciler.tick();
    this.hooks.onTick?.(result);
    return result;
  }

  /**
   * Reloads run one after another, each reading the files and Docker afresh: a burst of
   * Docker events can never leave an older view in force after a newer one.
   */
  reload(reason: string): Promise<boolean> {
    const next = this.reloads.then(() => this.reloadNow(reason));
    this.reloads = next.catch(() => false);
    return next;
  }

  /**
   * A source changed (a CNI ADD, DEL or GC): joins a reload that is queued and has not
   * started yet, since it will read the change too. 100 parallel ADDs cost a few reloads, not 100.
   */
  reloadSoon(reason: string): Promise<boolean> {
    if (this.queued) {
      this.queued.reasons.push(reason);
      return this.queued.done;
    }
    const queued: { reasons: string[]; done: Promise<boolean> } = { reasons: [reason], done: Promise.resolve(false) };
    this.queued = queued;
    queued.done = this.reloads.then(() => {
      this.queued = undefined;
      return this.reloadNow(queued.reasons.join(', '));
    });
    this.reloads = queued.done.catch(() => false);
    return queued.done;
  }

  private async reloadNow(reason: string): Promise<boolean> {
    let loaded: PolicySourceResult;
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
    this.armSchedules(loaded.policy);
    this.followDocker(loaded.policy);
    this.followCni(loaded.policy);
    this.logger.log('info', 'policy reloaded', { reason, containers: loaded.policy.containers.length, ...(loaded.waiting.length > 0 ? { waiting: loaded.waiting } : {}) });
    await this.runTick();
    return true;
  }

  /** A Docker host's containers come and go: every change re-reads them (one tick later they are shaped). */
  private followDocker(policy: Policy): void {
    const engine = this.source.engineFor(policy.host.docker);
    if (this.follower && this.follower.endpoint === engine?.endpoint) return;
    this.follower?.follower.stop();
    this.follower = undefined;
    if (!engine || this.stopped) return;
    const follower = new DockerFollower(engine, this.logger, (reason) => void this.reload(reason));
    this.follower = { endpoint: engine.endpoint, follower };
    follower.start();
  }

  /**
   * A CNI host's pods come and go with the plugin's records: the plugin pokes the control
   * socket, and the directory is watched too, for records written while the daemon
   * started or when the poke was lost.
   */
  private followCni(policy: Policy): void {
    const dir = policy.host.cni?.stateDir;
    if (this.cniWatch?.dir === dir) return;
    this.cniWatch?.watcher.close();
    this.cniWatch = undefined;
    if (!dir || this.stopped) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const watcher = watch(dir, { recursive: true }, (_event, file) => {
        if (file && String(file).endsWith('.json')) void this.reloadSoon('cni attachments changed');
      });
      this.cniWatch = { dir, watcher };
    } catch (e) {
      this.logger.log('warn', 'cannot watch the CNI state directory; pods are shaped when the plugin pokes the control socket', { dir, error: (e as Error).message });
    }
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

  private watchPolicies(): void {
    for (const path of this.options.paths) {
      try {
        this.watchers.push(watch(path, () => this.debouncedReload()));
      } catch (e) {
        this.logger.log('warn', 'cannot watch policy path; reload with SIGHUP', { path, error: (e as Error).message });
      }
    }
  }

  /** Stops following file changes (SIGHUP and the control socket still reload). */
  stopWatching(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private debouncedReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.reload('file changed'), 200);
  }

  private async handle(request: ControlRequest): Promise<unknown> {
    const state = this.reconciler.current;
    switch (request.cmd) {
      case 'status':
        return { snapshot: state.snapshot, lastTick: state.lastTick, policyHost: state.policy?.host.name };
      case 'inspect':
        return {
          container: state.compiled?.containers.find((c) => c.name === request.container || c.docker?.name === request.container || c.cni?.workload === request.container),
          snapshot: state.snapshot?.rows.filter((r) => r.container === request.container || r.docker === request.container || r.pod === request.container),
        };
      case 'reload':
        return { reloaded: await this.reload('control socket') };
      case 'tick':
        return this.runTick();
      case 'sources-changed':
        void this.reloadSoon(request.reason);
        return { queued: true };
      default:
        throw new Error(`unknown request ${JSON.stringify(request)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.follower?.follower.stop();
    this.cniWatch?.watcher.close();
    if (this.timer) clearTimeout(this.timer);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    for (const t of this.cronTasks) void t.stop();
    for (const t of this.windowTimers) clearTimeout(t);
    process.off('SIGHUP', this.onHup);
    if (this.control) await new Promise<void>((resolve) => this.control!.close(() => resolve()));
    this.logger.log('info', 'stopped; enforcement stays in place (sluice destroy removes it)');
  }
}
