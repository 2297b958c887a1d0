// Converging the kernel to a policy: observe what Sluice owns, compile, diff, execute.
// The same path serves `plan`, `apply`, `destroy`, the reconciler's tick and the demo.

import type { OwnershipRecord, OwnershipStore } from '../wiring/ownership';
import { CompileMemo, compilePolicy, policyFootprint, type CompiledPolicy, type KernelFeatures } from '../compile';
import { isOwnedNamespaceName } from '../compile/topology';
import type { ExecutionReport, KernelPort } from '../kernel/port';
import { diff } from '../plan/diff';
import type { Plan } from '../plan/model';
import type { Policy } from '../policy/model';
import { emptyKernelState, HOST_NETNS, mergeStates, type ExternalDevice, type KernelState, type NetnsLocator, type ObservedState } from '../tc/model';

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
  readonly observed: ObservedState;
  readonly plan: Plan;
}

export interface ApplyOutcome extends PlannedChange {
  readonly report: ExecutionReport;
}

export interface ConvergeOutcome {
  readonly observed: ObservedState;
  readonly plan: Plan;
  readonly report: ExecutionReport;
}

export class Applier {
  private readonly compiler = new CompileMemo();
  /** The desired state and the observation last found equal to it (a plan of nothing). */
  private converged: { readonly state: KernelState; readonly revision: string } | undefined;
  private merged: { readonly compiled: KernelState; readonly extra: KernelState; readonly state: KernelState } | undefined;
  /** Namespaces named by a process (/proc/<pid>/ns/net) observed last time. */
  private transient = new Set<NetnsLocator>();

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
    const covered = policyFootprint(policy);
    const hints: ObserveHints = {
      namespaces: [...covered.namespaces, ...(extra?.namespaces ?? [])],
      sysctls: [...covered.sysctls, ...(extra?.sysctls ?? [])],
      external: [...covered.external, ...(record?.external ?? [])],
    };
    const scope = scopeOf(policy.host.netns, [...covered.netns, ...(extra ? netnsOf(extra) : [])], record);
    this.releaseGone(scope);
    const everything = await this.observe(scope, hints, withStats, record?.namespaces);
    const compiled = this.compiler.compile(policy, { observed: everything, features: this.features });
    const state = extra ? this.merge(compiled.state, extra) : compiled.state;
    const observed = claimLinks(everything, [...hints.namespaces.map((n) => n.name), ...(record?.namespaces ?? [])], [...linkKeys(state), ...(record?.links ?? [])]);
    // The compiled policy itself when nothing was merged in: it keeps its identity tick after tick.
    return { compiled: state === compiled.state ? compiled : { ...compiled, state }, observed, plan: this.diff(state, observed) };
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
    if (planned.plan.length === 0 && record) return { ...planned, report: { applied: [], skipped: [] } };
    // Recorded before executing: if the kernel refuses halfway, the next apply or
    // destroy still knows every namespace this run may have created.
    const fresh = recordFor(policy, planned.compiled.state);
    await this.store.write(mergeRecords(fresh, record));
    const report = await this.kernel.execute(planned.plan);
    if (!report.failed) await this.store.write(fresh);
    return { ...planned, report };
  }

  /** Removes everything recorded for `host` (and what the policy names, if given). */
  async destroy(host: string, policy?: Policy): Promise<ConvergeOutcome> {
    const record = await this.store.read(host);
    const hostNetns = policy?.host.netns ?? record?.hostNetns ?? HOST_NETNS;
    const covered = policy ? policyFootprint(policy) : { netns: [], namespaces: [], sysctls: [], external: [] };
    const scope = scopeOf(hostNetns, covered.netns, record);
    const everything = await this.observe(scope, { ...covered, external: [...covered.external, ...(record?.external ?? [])] }, false, record?.namespaces);
    const named = policy ? linkKeys(compilePolicy(policy, { features: this.features }).state) : [];
    const observed = claimLinks(everything, [...covered.namespaces.map((n) => n.name), ...(record?.namespaces ?? [])], [...named, ...(record?.links ?? []), ...(record?.external ?? [])]);
    const plan = diff(emptyKernelState(), observed);
    const report = await this.kernel.execute(plan);
    if (!report.failed) await this.store.remove(host);
    return { observed, plan, report };
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
  async ensure(desired: KernelState, scope: readonly NetnsLocator[]): Promise<ConvergeOutcome> {
    const observed = footprint(await this.observe(scope, desired, false), desired);
    const plan = diff(desired, observed);
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
  async observe(scope: readonly NetnsLocator[], desired: ObserveHints, withStats: boolean, created: readonly string[] = []): Promise<ObservedState> {
    const existing = [...new Set(scope)].filter((ns) => this.probe.exists(ns));
    const wholly = [...new Set([...desired.namespaces.map((n) => n.name), ...created])];
    const raw = await this.kernel.observe({ netns: existing, withStats, wholly, ...(desired.external?.length ? { external: desired.external } : {}) });
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

const deviceKey = (netns: NetnsLocator, dev: string): string => `${netns}\0${dev}`;

/** The links a state puts in place, as devices. */
const linkKeys = (state: KernelState): ExternalDevice[] => state.links.map((l) => ({ netns: l.netns, dev: l.name }));

/**
 * In a namespace Sluice did not create, a device is its own only if the policy puts it
 * there or an earlier apply recorded making it: a Docker daemon's namespace holds sl-
 * bridges of Docker's that an sl- prefix alone would claim.
 */
function claimLinks(observed: ObservedState, wholly: readonly NetnsLocator[], mine: readonly ExternalDevice[]): ObservedState {
  const whole = new Set(wholly);
  // Everything observed hangs off an observed link: with every link in a namespace Sluice
  // owns whole (the sandbox), there is nothing to sort out, tick after tick.
  if (observed.links.every((l) => whole.has(l.netns))) return observed;
  const keys = new Set(mine.filter((d) => !whole.has(d.netns)).map((d) => deviceKey(d.netns, d.dev)));
  const ours = (netns: NetnsLocator, dev: string | undefined): boolean => whole.has(netns) || dev === undefined || keys.has(deviceKey(netns, dev));
  return {
    ...observed,
    links: observed.links.filter((l) => ours(l.netns, l.name)),
    addresses: observed.addresses.filter((a) => ours(a.netns, a.dev)),
    routes: observed.routes.filter((r) => ours(r.netns, r.dev)),
    qdiscs: observed.qdiscs.filter((q) => ours(q.netns, q.dev)),
    classes: observed.classes.filter((c) => ours(c.netns, c.dev)),
    filters: observed.filters.filter((f) => ours(f.netns, f.dev)),
  };
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
 * A Docker container's namespace (/proc/<pid>/ns/net) is not remembered: once it stops,
 * its pid may name another process's namespace, which Sluice must never look into.
 */
function recordFor(policy: Policy, state: KernelState): OwnershipRecord {
  const transient = new Set(policy.containers.flatMap((c) => (c.workload?.netns ? [c.workload.netns] : [])));
  const external = policyFootprint(policy).external.filter((d) => !transient.has(d.netns));
  const namespaces = state.namespaces.map((n) => n.name);
  // Devices it makes in namespaces it does not own whole: only these are its to remove there.
  const links = state.links.filter((l) => l.spec.kind !== 'external' && !namespaces.includes(l.netns)).map((l) => ({ netns: l.netns, dev: l.name }));
  return {
    host: policy.host.name,
    hostNetns: policy.host.netns,
    namespaces,
    scope: [...new Set([policy.host.netns, ...state.links.map((l) => l.netns)])].filter((ns) => !transient.has(ns)),
    links,
    ...(external.length > 0 ? { external } : {}),
  };
}

function mergeRecords(a: OwnershipRecord, b: OwnershipRecord | undefined): OwnershipRecord {
  if (!b) return a;
  const union = (x: readonly ExternalDevice[] = [], y: readonly ExternalDevice[] = []): ExternalDevice[] => [...new Map([...x, ...y].map((d) => [deviceKey(d.netns, d.dev), d])).values()];
  const external = union(a.external, b.external);
  return { ...a, namespaces: [...new Set([...a.namespaces, ...b.namespaces])], scope: [...new Set([...a.scope, ...b.scope])], links: union(a.links, b.links), ...(external.length > 0 ? { external } : {}) };
}

/** The part of `observed` that `desired` speaks about: its namespaces, its links, and what is on them. */
function footprint(observed: ObservedState, desired: KernelState): ObservedState {
  const namespaces = new Set(desired.namespaces.map((n) => n.name));
  const links = new Set(desired.links.map((l) => `${l.netns}/${l.name}`));
  const inside = (o: { netns: NetnsLocator; dev?: string }): boolean => namespaces.has(o.netns) || (o.dev !== undefined && links.has(`${o.netns}/${o.dev}`));
  return {
    ...observed,
    namespaces: observed.namespaces.filter((n) => namespaces.has(n.name)),
    links: observed.links.filter((l) => namespaces.has(l.netns) || links.has(`${l.netns}/${l.name}`)),
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
