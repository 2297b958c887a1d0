// Converging the kernel to a policy: observe what Sluice owns, compile, diff, execute.
// The same path serves `plan`, `apply`, `destroy`, the reconciler's tick and the demo.

import type { OwnershipRecord, OwnershipStore } from '../ports/ownership';
import { BridgeFullError, BridgeMissingError, ForeignObjectError } from './errors';
import { createdObjects, Ownership, touchesShared, withPinned, type DesiredLinkKinds, type OwnershipView } from './ownership';
import { isEmptyRecord, recordAhead, recordedOwnership, recordSettled, type RecordBase } from './record';
import { CompileMemo, policyFootprint, type CompiledPolicy, type KernelFeatures } from '../compile';
import { BRIDGE_MAX_PORTS, bridgePortsNeeded } from '../shape/namespaces';
import { isOwnedNamespaceName } from '../compile/topology';
import type { ExecutionReport, KernelPort } from '../kernel/port';
import { diff } from '../plan/diff';
import { planChange } from '../plan/change';
import { appliedIndex } from '../plan/growth';
import { keepObservedLookups } from '../compile/observed';
import type { Plan } from '../tc/operation';
import type { Policy } from '../policy/model';
import { emptyKernelState, HOST_NETNS, OWNED_PREFIX, type ExternalDevice, type KernelObject, type KernelState, type NetnsLocator, type ObservedState } from '../tc/model';
import { deviceKey, mergeStates, objectKey } from '../tc/identity';

/** The namespace-level facts the applier needs from the machine (native.ts in production). */
export interface NamespaceProbe {
  exists(locator: NetnsLocator): boolean;
  readSysctl(locator: NetnsLocator, key: string): string | undefined;
}

/**
 * What observing needs to know of the desired state: the namespaces it creates, the
 * sysctls it sets, and the devices it shapes without owning them.
 */
export type ObserveHints = Pick<KernelState, 'namespaces' | 'sysctls'> & { readonly external?: readonly ExternalDevice[] };

export interface PlannedChange {
  readonly compiled: CompiledPolicy;
  /** What Sluice owns of the observation (and foreign objects the policy names, shared). */
  readonly observed: ObservedState;
  readonly plan: Plan;
  /** Observed objects Sluice did not create: left alone, never deleted. */
  readonly foreign: readonly KernelObject[];
  /** Objects Sluice created and keeps although unwanted, because foreign ones are inside them. */
  readonly kept: readonly KernelObject[];
  /** The ownership split behind this plan. */
  readonly ownership: OwnershipView;
}

export interface ApplyOutcome extends PlannedChange {
  readonly report: ExecutionReport;
}

/** The steps of `applyChange`, each reported as it ends (serve's timing of an ADD). */
export type ChangePhase = 'plan' | 'record' | 'execute';

/** What applying a change without observing did (`applyChange`). */
export type ChangeOutcome =
  | { readonly kind: 'applied'; readonly plan: Plan; readonly report: ExecutionReport }
  /** Nothing sent: the next tick converges as it always did. */
  | { readonly kind: 'skipped'; readonly reason: string };

export interface ConvergeOutcome {
  readonly observed: ObservedState;
  readonly plan: Plan;
  readonly report: ExecutionReport;
}

export interface DestroyOutcome extends ConvergeOutcome {
  readonly foreign: readonly KernelObject[];
  readonly kept: readonly KernelObject[];
}

export class Applier {
  private readonly compiler = new CompileMemo();
  /** The desired state and the observation last found equal to it (a plan of nothing). */
  private converged: { readonly state: KernelState; readonly revision: string } | undefined;
  private merged: { readonly compiled: KernelState; readonly extra: KernelState; readonly state: KernelState } | undefined;
  /** Namespaces named by a process (/proc/<pid>/ns/net) observed last time. */
  private transient = new Set<NetnsLocator>();
  private viewed: { readonly revision: string; readonly record: OwnershipRecord | undefined; readonly desired: KernelState; readonly view: OwnershipView } | undefined;
  private desiredKeys: { readonly state: KernelState; readonly keys: ReadonlySet<string>; readonly links: DesiredLinkKinds } | undefined;
  private pinnedState: { readonly state: KernelState; readonly signature: string; readonly pinned: KernelState } | undefined;
  /**
   * What the kernel holds by Sluice's doing, as far as known without observing: the
   * desired state of the last apply, or of the last change applied after it, in full and
   * without a refusal. The base `applyChange` diffs against. Gone after any refusal,
   * until an apply succeeds again.
   */
  private applied: { readonly host: string; readonly state: KernelState; readonly pinned: readonly KernelObject[]; readonly shared: ReadonlySet<string> } | undefined;
  /**
   * Changes are applied without observing here (serve with pods: applyChange was
   * called): only then is each new base indexed ahead of the next change. `sluice apply`,
   * and serve with no pods, never plan a change and keep no index (~8 MB at 10,000).
   */
  private changesExpected = false;

  constructor(
    private readonly kernel: KernelPort,
    private readonly store: OwnershipStore,
    private readonly probe: NamespaceProbe,
    private readonly features: KernelFeatures,
  ) {}

  /** What apply would do; changes nothing. `extra`: objects kept beside the policy's. */
  async plan(policy: Policy, withStats = false, extra?: KernelState): Promise<PlannedChange> {
    return this.planWith(policy, withStats, extra, await this.store.read(policy.host.name));
  }

  private async planWith(policy: Policy, withStats: boolean, extra: KernelState | undefined, record: OwnershipRecord | undefined): Promise<PlannedChange> {
    const ports = bridgePortsNeeded(policy);
    if (ports > BRIDGE_MAX_PORTS) throw new BridgeFullError(policy.host.name, policy.host.bridge, ports, BRIDGE_MAX_PORTS);
    const covered = policyFootprint(policy);
    const hints: ObserveHints = {
      namespaces: [...covered.namespaces, ...(extra?.namespaces ?? [])],
      sysctls: [...covered.sysctls, ...(extra?.sysctls ?? [])],
      external: [...covered.external, ...(record?.external ?? [])],
    };
    const scope = scopeOf(policy.host.netns, [...covered.netns, ...(extra ? netnsOf(extra) : [])], record);
    this.releaseGone(scope);
    const everything = await this.observe(scope, hints, withStats, record?.namespaces, unseenDevices(policy));
    const host = policy.host;
    if (host.external && !everything.links.some((l) => l.netns === host.netns && l.name === host.bridge)) throw new BridgeMissingError(host.name, host.bridge, host.netns);
    const compiled = this.compiler.compile(policy, { observed: everything, features: this.features });
    const merged = extra ? this.merge(compiled.state, extra) : compiled.state;
    const ownership = this.ownershipView(everything, merged, record);
    if (ownership.conflicts.length > 0) throw new ForeignObjectError(policy.host.name, ownership.conflicts);
    const state = this.pin(merged, ownership.pinned);
    // The compiled policy itself when nothing was merged in: it keeps its identity tick after tick.
    const plan = this.diff(state, ownership.observed);
    const touched = touchesShared(plan, ownership.shared);
    if (touched.length > 0) throw new ForeignObjectError(policy.host.name, touched);
    return { compiled: state === compiled.state ? compiled : { ...compiled, state }, observed: ownership.observed, plan, foreign: ownership.foreign, kept: ownership.pinned, ownership };
  }

  /** The ownership split of an observation, again only when the observation, the record or the desired state changed. */
  private ownershipView(observed: ObservedState, desired: KernelState, record: OwnershipRecord | undefined): OwnershipView {
    const last = this.viewed;
    const revision = observed.revision;
    if (revision !== undefined && last && last.revision === revision && last.record === record && last.desired === desired) return { ...last.view, observed: { ...last.view.observed, stats: observed.stats } };
    const view = new Ownership(recordedOwnership(record)).view(observed, this.keysOf(desired), this.desiredIndex(desired).links);
    this.viewed = revision === undefined ? undefined : { revision, record, desired, view };
    return view;
  }

  /** Every key of a desired state (made once per state: the compiled one keeps its identity). */
  private keysOf(state: KernelState): ReadonlySet<string> {
    return this.desiredIndex(state).keys;
  }

  private desiredIndex(state: KernelState): { readonly keys: ReadonlySet<string>; readonly links: DesiredLinkKinds } {
    if (this.desiredKeys?.state !== state) this.desiredKeys = { state, keys: new Set(allObjects(state).map(objectKey)), links: new Map(state.links.map((l) => [objectKey(l), l.spec.kind])) };
    return this.desiredKeys;
  }

  /** The desired state with the pinned objects in it, the same object while neither changes. */
  private pin(state: KernelState, pinned: readonly KernelObject[]): KernelState {
    if (pinned.length === 0) return state;
    const signature = pinned.map(objectKey).join('|');
    if (this.pinnedState?.state !== state || this.pinnedState.signature !== signature) this.pinnedState = { state, signature, pinned: withPinned(state, pinned) };
    return this.pinnedState.pinned;
  }

  /**
   * The reconciler's steady state is the same desired state against an unchanged kernel,
   * tick after tick: once that pair diffed to nothing, it needs no diff again.
   */
  private diff(state: KernelState, observed: ObservedState): Plan {
    const revision = observed.revision;
    if (revision !== undefined && this.converged?.state === state && this.converged.revision === revision) return [];
    const plan = diff(state, observed);
    this.converged = plan.length === 0 && revision !== undefined ? { state, revision } : undefined;
    return plan;
  }

  /** The same merge while neither side changes, so that the desired state keeps its identity. */
  private merge(compiled: KernelState, extra: KernelState): KernelState {
    if (this.merged?.compiled !== compiled || this.merged.extra !== extra) this.merged = { compiled, extra, state: mergeStates(compiled, extra) };
    return this.merged.state;
  }

  /**
   * Converges to the policy. `adjust` may rewrite the compiled state before the diff
   * (the per-device loop sets ceilings from measured demand).
   */
  async apply(policy: Policy, withStats = false, adjust?: (planned: PlannedChange) => KernelState, extra?: KernelState): Promise<ApplyOutcome> {
    const record = await this.store.read(policy.host.name);
    const base = await this.planWith(policy, withStats, extra, record);
    const planned = adjust ? withState(base, adjust(base)) : base;
    if (planned.plan.length === 0 && record?.objects) {
      this.remember(policy, planned);
      return { ...planned, report: { applied: [], skipped: [] } };
    }
    // Written (and synced) before anything is sent: if the kernel refuses halfway, or the
    // process dies, the next apply or destroy still knows every object this run may have made.
    const recordBase = baseOf(policy);
    const ahead = recordAhead(record, recordBase, createdObjects(planned.plan), record?.objects ? [] : ownedObjects(planned.ownership));
    if (ahead !== record) await this.store.write(ahead);
    this.applied = undefined;
    const report = planned.plan.length === 0 ? { applied: [], skipped: [] } : await this.kernel.execute(planned.plan);
    if (!report.failed) {
      const settled = recordSettled(ahead, recordBase, this.keysOf(planned.compiled.state));
      if (settled !== ahead) await this.store.write(settled);
      this.remember(policy, planned);
    }
    return { ...planned, report };
  }

  private remember(policy: Policy, planned: PlannedChange): void {
    const state = planned.compiled.state;
    const moved = this.applied?.state !== state;
    this.applied = { host: policy.host.name, state, pinned: planned.kept, shared: planned.ownership.shared };
    // The tick after a change compiles against the observation, whose addresses and slots
    // the change's compile did not have: a new state object (the same objects in it) that
    // the next change would otherwise index on its own path.
    if (moved && this.changesExpected && policy.host.mode !== 'per-device') this.indexSoon(state, policy.host.bridge);
  }

  /**
   * Applies what changed in the policy since the last apply, without observing: the new
   * desired state against the one the last apply left (src/plan/change.ts). For a pod's
   * ADD: the pod's classes, queues and filters and its siblings' new quanta, before the
   * ADD is answered. Compiled against that state as if observed (it is what the kernel
   * holds after the apply; the observation before the apply is not, when the apply
   * changed anything), so every other workload keeps its class ids and addresses.
   * Changes chain: one that the kernel took in full becomes the next one's base, so
   * back-to-back ADDs each apply at once, and each compiles against the state the one
   * before it left (its workloads keep their class ids), not against an older one.
   * Skipped (nothing sent) whenever that base is not known to hold: before a first
   * apply, after a refusal (until an apply observes again), in per-device mode (the
   * control loop sets ceilings from an observation), or for a change that removes
   * anything. A refusal leaves the record as it was plus what was made; the next apply,
   * which observes, converges (the caller runs it after this).
   */
  async applyChange(policy: Policy, extra?: KernelState, lap: (phase: ChangePhase) => void = () => undefined): Promise<ChangeOutcome> {
    this.changesExpected = true;
    const applied = this.applied;
    if (!applied || applied.host !== policy.host.name) return { kind: 'skipped', reason: 'no apply to build on' };
    if (policy.host.mode === 'per-device') return { kind: 'skipped', reason: 'per-device: the control loop sets ceilings' };
    if (bridgePortsNeeded(policy) > BRIDGE_MAX_PORTS) return { kind: 'skipped', reason: 'the bridge is full' };
    // Read once per base (usually after the change that made it was answered, below): a
    // change that is skipped or plans nothing leaves the base, and the next one reuses it.
    keepObservedLookups(applied.state, policy.host.bridge);
    const compiled = this.compiler.compile(policy, { observed: applied.state, features: this.features });
    const state = this.pin(extra ? this.merge(compiled.state, extra) : compiled.state, applied.pinned);
    const change = planChange(state, applied.state);
    lap('plan');
    if (change.kind === 'skip') return { kind: 'skipped', reason: change.reason };
    const plan = change.plan;
    if (plan.length === 0) return { kind: 'applied', plan, report: { applied: [], skipped: [] } };
    if (touchesShared(plan, applied.shared).length > 0) return { kind: 'skipped', reason: 'the change touches objects Sluice shares' };
    const record = await this.store.read(policy.host.name);
    const recordBase = baseOf(policy);
    // Ahead, as apply does: a process that dies halfway still knows what it may have made.
    const ahead = recordAhead(record, recordBase, createdObjects(plan));
    if (ahead !== record) await this.store.write(ahead);
    lap('record');
    this.applied = undefined;
    const report = await this.kernel.execute(plan);
    lap('execute');
    if (report.failed) {
      // Not observed first: a create the kernel refused may have met an object that is not
      // Sluice's (EEXIST). Only what was made stays recorded as Sluice's.
      const made = recordAhead(record, recordBase, createdObjects(report.applied));
      if (made !== ahead) await this.store.write(made);
    } else {
      // The kernel took all of it: what it holds now is this desired state, the next
      // change's base. The record is left ahead (it lists what was made; a later apply,
      // which observes, settles it as after any apply).
      this.applied = { ...applied, state };
      this.indexSoon(state, policy.host.bridge);
    }
    return { kind: 'applied', plan, report };
  }

  /**
   * Indexes the next change's base once the caller has answered this one (an immediate
   * runs after the promise chain that writes serve's answer), not on the next change's
   * path: ~100 ms at 10,000 containers in 100 groups. Not if another base replaced it
   * meanwhile, and not at all in a process about to exit (`sluice apply`): unref'd.
   */
  private indexSoon(state: KernelState, bridge: string): void {
    setImmediate(() => {
      if (this.applied?.state !== state) return;
      keepObservedLookups(state, bridge);
      appliedIndex(state);
    }).unref();
  }

  /**
   * Removes everything recorded for `host`; a policy, if given, only widens where to look.
   * Objects Sluice did not create are left, and so is what holds them (reported as kept).
   */
  async destroy(host: string, policy?: Policy): Promise<DestroyOutcome> {
    const record = await this.store.read(host);
    const hostNetns = policy?.host.netns ?? record?.hostNetns ?? HOST_NETNS;
    const covered = policy ? policyFootprint(policy) : { netns: [], namespaces: [], sysctls: [], external: [] };
    const scope = scopeOf(hostNetns, covered.netns, record);
    const everything = await this.observe(scope, { namespaces: [], sysctls: [], external: [...covered.external, ...(record?.external ?? [])] }, false, record?.namespaces);
    const ownership = new Ownership(recordedOwnership(record)).view(everything, new Set());
    const kept = withPinned(emptyKernelState(), ownership.pinned);
    const plan = diff(kept, ownership.observed);
    const report = await this.kernel.execute(plan);
    if (!report.failed && record) {
      const left = recordSettled(record, { host, hostNetns: record.hostNetns, external: record.external ?? [], transient: new Set() }, new Set(ownership.pinned.map(objectKey)));
      if (isEmptyRecord(left)) await this.store.remove(host);
      else if (left !== record) await this.store.write(left);
    }
    return { observed: ownership.observed, plan, report, foreign: ownership.foreign, kept: ownership.pinned };
  }

  /** Converges arbitrary desired objects within `scope`: what is in scope and not desired is removed. */
  async converge(desired: KernelState, scope: readonly NetnsLocator[]): Promise<ConvergeOutcome> {
    // The scope's own sl- namespaces are wholly the caller's: removed unless desired.
    const observed = await this.observe(scope, desired, false, scope.filter(isOwnedNamespaceName));
    const plan = diff(desired, observed);
    return { observed, plan, report: await this.kernel.execute(plan) };
  }

  /**
   * Makes `desired` exist without touching anything else in its namespaces (the demo's
   * peer link lives in the policy's host namespace, beside objects the policy owns).
   */
  async ensure(desired: KernelState, scope: readonly NetnsLocator[], recordAs?: Policy): Promise<ConvergeOutcome> {
    const observed = footprint(await this.observe(scope, desired, false), desired);
    const plan = diff(desired, observed);
    // Made for a host (the demo's peer beside its sandbox): its record says so, ahead, so
    // that destroy removes it and an apply without it does not take it for a stranger's.
    if (recordAs) {
      const record = await this.store.read(recordAs.host.name);
      const ahead = recordAhead(record, baseOf(recordAs), createdObjects(plan));
      if (ahead !== record) await this.store.write(ahead);
    }
    return { observed, plan, report: await this.kernel.execute(plan) };
  }

  /** A container that stopped left its process namespace out of scope: drop its socket so the namespace can go. */
  private releaseGone(scope: readonly NetnsLocator[]): void {
    // Paths: a process's namespace, or a pod's (CNI_NETNS), which go with their owner.
    const now = new Set(scope.filter((ns) => ns.startsWith('/')));
    const gone = [...this.transient].filter((ns) => !now.has(ns));
    if (gone.length > 0) this.kernel.release(gone);
    this.transient = now;
  }

  /** Owned objects in the namespaces of `scope` that exist, plus the sysctls `desired` names. */
  async observe(scope: readonly NetnsLocator[], desired: ObserveHints, withStats: boolean, created: readonly string[] = [], unseen: readonly ExternalDevice[] = []): Promise<ObservedState> {
    const existing = [...new Set(scope)].filter((ns) => this.probe.exists(ns));
    const wholly = [...new Set([...desired.namespaces.map((n) => n.name), ...created])];
    // Devices the policy creates under names the kernel port would not report (not sl-,
    // outside Sluice's namespaces) are read too: if one exists, it is not Sluice's.
    const devices = [...(desired.external ?? []), ...unseen.filter((d) => !wholly.includes(d.netns))];
    const raw = await this.kernel.observe({ netns: existing, withStats, wholly, ...(devices.length ? { external: devices } : {}) });
    // A namespace is Sluice's to delete only if it creates it (or did): never the one a
    // Docker daemon runs in, even with an sl- name.
    const owned = new Set(wholly);
    const sysctls = desired.sysctls.flatMap((s) => {
      if (!existing.includes(s.netns)) return [];
      const value = this.probe.readSysctl(s.netns, s.key);
      return value === undefined ? [] : [{ ...s, value }];
    });
    const external = desired.external ?? [];
    // What this method adds to the kernel's reading is part of the revision too.
    const revision = raw.revision === undefined ? undefined : [raw.revision, wholly.join(','), external.map((d) => deviceKey(d.netns, d.dev)).join(','), sysctls.map((s) => `${s.netns}/${s.key}=${s.value}`).join(',')].join('|');
    const observed: ObservedState = { ...raw, namespaces: raw.namespaces.filter((n) => owned.has(n.name)), sysctls, ...(revision !== undefined ? { revision } : {}) };
    return externalize(observed, external);
  }
}

/**
 * A device Sluice shapes but does not own reads as `external` (never deleted or
 * replaced), and its addresses and routes are not Sluice's to remove; its qdiscs,
 * classes and filters are.
 */
function externalize(observed: ObservedState, external: readonly ExternalDevice[]): ObservedState {
  if (external.length === 0) return observed;
  const keys = new Set(external.map((d) => deviceKey(d.netns, d.dev)));
  const isExternal = (netns: NetnsLocator, dev: string | undefined): boolean => dev !== undefined && keys.has(deviceKey(netns, dev));
  return {
    ...observed,
    links: observed.links.map((l) => (isExternal(l.netns, l.name) ? { type: 'link', netns: l.netns, name: l.name, up: l.up, ...(l.gsoMaxSize !== undefined ? { gsoMaxSize: l.gsoMaxSize } : {}), spec: { kind: 'external' } } : l)),
    addresses: observed.addresses.filter((a) => !isExternal(a.netns, a.dev)),
    routes: observed.routes.filter((r) => !isExternal(r.netns, r.dev)),
  };
}

/** Namespaces an apply looks at: the host's, every container's, and what it created before. */
function scopeOf(hostNetns: NetnsLocator, covered: readonly NetnsLocator[], record: OwnershipRecord | undefined): NetnsLocator[] {
  return [...new Set([hostNetns, ...covered, ...(record?.scope ?? []), ...(record?.namespaces ?? [])])];
}

/** The namespaces a state puts objects in. */
const netnsOf = (state: KernelState): NetnsLocator[] => [...state.namespaces.map((n) => n.name), ...state.links.map((l) => l.netns)];

/**
 * What every record of this policy says besides its objects. A Docker container's
 * namespace (/proc/<pid>/ns/net) is not remembered as a place to look: once it stops,
 * its pid may name another process's namespace, which Sluice must never look into.
 */
function baseOf(policy: Policy): RecordBase {
  const transient = new Set(policy.containers.flatMap((c) => (c.workload?.netns ? [c.workload.netns] : [])));
  return { host: policy.host.name, hostNetns: policy.host.netns, external: policyFootprint(policy).external, transient };
}

/** What a format-1 record owned, to be carried into the first format-2 record by key. */
function ownedObjects(view: OwnershipView): KernelObject[] {
  const shared = view.shared;
  return allObjects(view.observed).filter((o) => !(o.type === 'link' && o.spec.kind === 'external') && o.type !== 'sysctl' && !shared.has(objectKey(o)));
}

const allObjects = (s: KernelState): KernelObject[] => [...s.namespaces, ...s.links, ...s.addresses, ...s.routes, ...s.qdiscs, ...s.classes, ...s.filters, ...s.cgroups];

/**
 * The host's devices the policy creates that the kernel port reports only when asked by
 * name (not sl-); the containers' devices are always sl- names.
 */
const unseenDevices = (policy: Policy): ExternalDevice[] =>
  (policy.host.external ? [policy.host.ifb] : [policy.host.bridge, policy.host.ifb]).filter((d) => !d.startsWith(OWNED_PREFIX)).map((dev) => ({ netns: policy.host.netns, dev }));

/** The part of `observed` that `desired` speaks about: its namespaces, its links, and what is on them. */
function footprint(observed: ObservedState, desired: KernelState): ObservedState {
  const namespaces = new Set(desired.namespaces.map((n) => n.name));
  const links = new Set(desired.links.map((l) => deviceKey(l.netns, l.name)));
  const inside = (o: { netns: NetnsLocator; dev?: string }): boolean => namespaces.has(o.netns) || (o.dev !== undefined && links.has(deviceKey(o.netns, o.dev)));
  return {
    ...observed,
    namespaces: observed.namespaces.filter((n) => namespaces.has(n.name)),
    links: observed.links.filter((l) => namespaces.has(l.netns) || links.has(deviceKey(l.netns, l.name))),
    addresses: observed.addresses.filter(inside),
    routes: observed.routes.filter(inside),
    sysctls: observed.sysctls.filter((s) => namespaces.has(s.netns)),
    qdiscs: observed.qdiscs.filter(inside),
    classes: observed.classes.filter(inside),
    filters: observed.filters.filter(inside),
    cgroups: [],
  };
}

function withState(planned: PlannedChange, state: KernelState): PlannedChange {
  return { ...planned, compiled: { ...planned.compiled, state }, plan: diff(state, planned.observed) };
}
