// The level-triggered loop: every tick, the policy in force now (base policy plus open
// windows) is compiled and the kernel converged to it. A non-empty plan for an
// unchanged policy is drift: something changed the kernel behind Sluice's back.

import type { Applier } from '../apply/applier';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { CompiledPolicy } from '../compile';
import { SluiceError } from '../errors';
import { BridgeMissingError } from '../apply/errors';
import { describeOperation } from '../plan/format';
import type { Policy } from '../policy/model';
import { activeWindows, applyWindows, type OpenWindow, type WindowOptions } from '../schedule/windows';
import { containerCounters, RateEstimator, snapshot, type TrafficSnapshot } from '../traffic/snapshot';
import type { ChangePhase, PlannedChange } from '../apply/applier';
import { burstBytesFor } from '../compile/htb';
import { DIRECTIONS, type KernelState } from '../tc/model';
import { classKey, objectKey } from '../tc/identity';
import { bitsPerSec } from '../units/units';
import { DEFAULT_TUNING, nextCeilings, type DeviceClassState, type DeviceGroup } from './borrowing';

/** A group's id among the per-device loop's class keys (which hold a '/'; a group name holds none). */
const groupId = (name: string): string => `group:${name}`;

export interface TickResult {
  readonly at: number;
  readonly durationMs: number;
  /** Operations executed this tick. */
  readonly operations: number;
  /** Operations that repaired drift (the policy had not changed). */
  readonly driftRepairs: number;
  readonly windows: readonly OpenWindow[];
  /** Nothing to shape yet, and why (the Host's external bridge does not exist): not an error. */
  readonly waiting?: string;
  readonly error?: { readonly kind: 'terminal' | 'transient'; readonly message: string; readonly code: string };
}

/** What `applyChange` did: the operations sent, or why it sent none. */
export interface ChangeResult {
  readonly durationMs: number;
  /** Where the time went: compile and diff, the ownership record (synced), netlink. */
  readonly phasesMs?: Readonly<Partial<Record<ChangePhase, number>>>;
  readonly operations: number;
  readonly skipped?: string;
  readonly error?: string;
}

export interface ReconcilerOptions extends WindowOptions {
  /** Read counters every tick (for status and metrics). */
  readonly withStats?: boolean;
  /** Objects kept alongside the policy's (the demo's peer link in the sandbox). */
  readonly extra?: KernelState;
}

export class Reconciler {
  private policy: Policy | undefined;
  private policyVersion = 0;
  private convergedVersion = -1;
  private compiledNow: CompiledPolicy | undefined;
  private lastSnapshot: TrafficSnapshot | undefined;
  private lastTick: TickResult | undefined;
  private readonly rates = new RateEstimator();
  private running: Promise<TickResult> | undefined;
  /** The tick asked for while one ran: it starts once that one ends, shared until then. */
  private following: Promise<TickResult> | undefined;
  /** The running tick has read the policy and windows (until then, a caller can share it). */
  private runningHasRead = false;
  /** The policy version the last finished tick read (awaitingTick). */
  private tickedVersion = -1;
  /** An applyChange in progress: a tick starts after it. */
  private changing: Promise<unknown> | undefined;

  constructor(
    private readonly applier: Applier,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: ReconcilerOptions = {},
  ) {}

  /** A new, already validated policy; the next tick converges to it. */
  setPolicy(policy: Policy): void {
    this.policy = policy;
    this.policyVersion++;
  }

  get current(): { policy?: Policy; compiled?: CompiledPolicy; snapshot?: TrafficSnapshot; lastTick?: TickResult } {
    return { policy: this.policy, compiled: this.compiledNow, snapshot: this.lastSnapshot, lastTick: this.lastTick };
  }

  /**
   * The policy set last has not been read by a tick that finished: a change is still
   * waiting for its observe and repair (serve's status says so; a bench waits it out).
   */
  get awaitingTick(): boolean {
    return this.tickedVersion !== this.policyVersion;
  }

  /**
   * One observe → diff → execute pass that starts after this call. A tick already running
   * read the policy and the windows when it started, maybe before the caller's reload or
   * window: sharing it left that change to the next periodic tick. Callers during a tick
   * share one more, started when it ends; a tick that has not started yet (behind a
   * change) reads after them, and is shared.
   */
  tick(): Promise<TickResult> {
    if (!this.running) return this.startTick();
    if (!this.runningHasRead) return this.running;
    this.following ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.following = undefined;
        // A tick started since (after every caller of this one) will do.
        return this.running ?? this.startTick();
      });
    return this.following;
  }

  private startTick(): Promise<TickResult> {
    this.runningHasRead = false;
    const run: Promise<TickResult> = (this.changing ?? Promise.resolve())
      .then(async () => {
        // runTick reads the policy and windows before its first await: this is what it converges to.
        this.runningHasRead = true;
        const version = this.policyVersion;
        const result = await this.runTick();
        this.tickedVersion = version;
        return result;
      })
      .finally(() => {
        if (this.running === run) this.running = undefined;
      });
    this.running = run;
    return run;
  }

  /**
   * Applies what the policy set last changed, without observing (Applier.applyChange),
   * after any running tick and before the next. Never throws: whatever it could not do,
   * the next tick does, as it did before this existed. Schedule windows are applied as
   * the tick would; per-device mode is skipped (the loop's ceilings need counters).
   */
  async applyChange(): Promise<ChangeResult> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.runChange();
    this.changing = run;
    try {
      return await run;
    } finally {
      if (this.changing === run) this.changing = undefined;
    }
  }

  private async runChange(): Promise<ChangeResult> {
    const started = this.clock.monotonic();
    const base = this.policy;
    if (!base) return { durationMs: 0, operations: 0, skipped: 'no policy yet' };
    const effective = applyWindows(base, activeWindows(base.schedules, this.clock.now(), this.options));
    const phasesMs: Partial<Record<ChangePhase, number>> = {};
    let lapped = started;
    const lap = (phase: ChangePhase): void => {
      const now = this.clock.monotonic();
      phasesMs[phase] = now - lapped;
      lapped = now;
    };
    try {
      const outcome = await this.applier.applyChange(effective, this.options.extra, lap);
      const durationMs = this.clock.monotonic() - started;
      if (outcome.kind === 'skipped') return { durationMs, phasesMs, operations: 0, skipped: outcome.reason };
      const failed = outcome.report.failed;
      if (failed) this.logger.log('info', 'a change applied without observing was refused; the tick converges', { operation: describeOperation(failed.operation), error: failed.error.message });
      return { durationMs, phasesMs, operations: outcome.report.applied.length, ...(failed ? { error: failed.error.message } : {}) };
    } catch (e) {
      this.logger.log('warn', 'applying a change without observing failed; the tick converges', { error: (e as Error).message });
      return { durationMs: this.clock.monotonic() - started, operations: 0, error: (e as Error).message };
    }
  }

  private async runTick(): Promise<TickResult> {
    const started = this.clock.monotonic();
    const at = this.clock.now();
    const base = this.policy;
    if (!base) return this.finish({ at, durationMs: 0, operations: 0, driftRepairs: 0, windows: [] });
    const windows = activeWindows(base.schedules, at, this.options);
    const effective = applyWindows(base, windows);
    const version = this.policyVersion;
    try {
      const perDevice = effective.host.mode === 'per-device';
      const adjust = perDevice ? (p: PlannedChange): KernelState => this.lendByControlLoop(effective, p) : undefined;
      const outcome = await this.applier.apply(effective, (this.options.withStats ?? true) || perDevice, adjust, this.options.extra);
      this.compiledNow = outcome.compiled;
      this.lastSnapshot = snapshot(outcome.compiled, outcome.observed, effective.host, this.rates, outcome.observed.statsAt ?? this.clock.monotonic());
      // Ceilings the per-device loop moved on purpose are not drift.
      const repairs = outcome.report.applied.filter((op) => !(op.object.type === 'class' && this.loopCeilings.has(objectKey(op.object)) && op.op === 'change' && op.fields.every((f) => f === 'ceil' || f === 'cburst')));
      const drift = this.convergedVersion === version && this.windowsUnchanged(windows) ? repairs.length : 0;
      for (const op of drift > 0 ? repairs : []) this.logger.log('warn', 'drift repaired', { operation: describeOperation(op) });
      if (outcome.report.failed) {
        const e = outcome.report.failed.error;
        this.logger.log('error', 'kernel refused', { operation: describeOperation(outcome.report.failed.operation), error: e.message });
        return this.finish({ at, durationMs: this.clock.monotonic() - started, operations: outcome.report.applied.length, driftRepairs: drift, windows, error: { kind: 'transient', message: e.message, code: e.code } });
      }
      if (outcome.plan.length > 0 && drift === 0) this.logger.log('info', 'converged', { operations: outcome.plan.length, windows: windows.map((w) => w.schedule.name) });
      this.convergedVersion = version;
      this.lastWindows = windows.map((w) => w.schedule.name).join(',');
      if (this.waitingFor) this.logger.log('info', 'the wait is over; shaping', { was: this.waitingFor });
      this.waitingFor = undefined;
      return this.finish({ at, durationMs: this.clock.monotonic() - started, operations: outcome.report.applied.length, driftRepairs: drift, windows });
    } catch (e) {
      if (e instanceof BridgeMissingError) return this.wait(e, { at, durationMs: this.clock.monotonic() - started, operations: 0, driftRepairs: 0, windows });
      const kind = e instanceof SluiceError && (e.code === 'EPERM' || e.code === 'ENOFEATURE' || e.code === 'EFOREIGN' || e.code === 'EBRIDGEFULL') ? 'terminal' : 'transient';
      this.logger.log('error', 'tick failed', { kind, error: (e as Error).message });
      return this.finish({ at, durationMs: this.clock.monotonic() - started, operations: 0, driftRepairs: 0, windows, error: { kind, message: (e as Error).message, code: e instanceof SluiceError ? e.code : 'EINTERNAL' } });
    }
  }

  private lastWindows = '';
  /** What the last ticks waited for, said once. */
  private waitingFor: string | undefined;

  private wait(e: BridgeMissingError, result: TickResult): TickResult {
    if (this.waitingFor !== e.message) this.logger.log('info', 'waiting', { reason: e.message });
    this.waitingFor = e.message;
    return this.finish({ ...result, waiting: e.message });
  }

  /** A short half-life: the per-device loop must react within a few ticks. */
  private readonly demandRates = new RateEstimator(50);
  /** Ceilings the loop set, so a tick that changes them is not mistaken for drift. */
  private loopCeilings = new Map<string, number>();

  /**
   * Per-device mode: each container's ceiling is its share of the link from the oracle,
   * given demand estimated from its class counters (src/reconcile/borrowing.ts).
   */
  private lendByControlLoop(policy: Policy, planned: PlannedChange): KernelState {
    // The time the counters were read, not now: compile and diff ran in between, and under
    // CPU load that gap varied from 5 to 210 ms per 500 ms tick (measured), which skewed
    // the measured rate by up to 40%: a sender at its ceiling looked idle, its ceiling was
    // cut to what it had managed, and a phase missed its share.
    const at = planned.observed.statsAt ?? this.clock.monotonic();
    const counted = containerCounters(planned.compiled, planned.observed);
    const observedCeil = new Map(planned.observed.classes.map((c) => [objectKey(c), c.spec.ceil]));
    const ceilings = new Map<string, number>();
    for (const direction of DIRECTIONS) {
      const states: DeviceClassState[] = planned.compiled.containers.flatMap((c) => {
        const ref = c.classes[direction];
        const got = counted.get(`${direction}/${c.name}`);
        if (!ref || !got) return [];
        const key = classKey(ref.netns, ref.dev, ref.classid);
        const state: DeviceClassState = { id: key, guarantee: ref.guarantee, maxCeiling: ref.ceiling, priority: ref.priority, currentCeiling: bitsPerSec(observedCeil.get(key) ?? ref.guarantee), rate: this.demandRates.update(key, got.counters.bytes, at) };
        return [c.group === undefined ? state : { ...state, group: groupId(c.group) }];
      });
      const groups = planned.compiled.groups.map((g): DeviceGroup => ({ id: groupId(g.name), ...(g.parent !== undefined ? { parent: groupId(g.parent) } : {}), ...g.bandwidth[direction] }));
      for (const [key, ceil] of nextCeilings(policy.host.capacity[direction], states, DEFAULT_TUNING, groups)) ceilings.set(key, ceil);
      this.logger.log('debug', 'per-device ceilings', { direction, countersAgeMs: Math.round(this.clock.monotonic() - at), classes: states.map((s) => ({ class: s.id, rate: Math.round(s.rate), ceiling: Math.round(s.currentCeiling), next: ceilings.get(s.id) })) });
    }
    this.loopCeilings = ceilings;
    const classes = planned.compiled.state.classes.map((c) => {
      const ceil = ceilings.get(objectKey(c));
      return ceil === undefined ? c : { ...c, spec: { ...c.spec, ceil: bitsPerSec(ceil), cburst: burstBytesFor(bitsPerSec(ceil)) } };
    });
    return { ...planned.compiled.state, classes };
  }

  private windowsUnchanged(windows: readonly OpenWindow[]): boolean {
    return windows.map((w) => w.schedule.name).join(',') === this.lastWindows;
  }

  private finish(result: TickResult): TickResult {
    this.lastTick = result;
    return result;
  }
}
