// The policy in force: the files, plus what the workload sources their Host enables
// contribute (label documents, running workloads), validated together, with workload
// matches resolved to addresses. Commands and the daemon load policies only through here.

import type { LocatedDocument, ParsedFiles } from '../policy/documents';
import { validateParsed, type PolicyIssue, type PolicyLoadResult } from '../policy/load';
import type { Policy } from '../policy/model';
import { settleDefaults } from './defaults';
import type { FilesSource } from './files/source';
import { resolveWorkloads, type ReadSource, type WaitingContainer, type WorkloadIndexes } from './resolve';
import type { HostSections, ResolvedWorkload, SourceLabel, Stop, UnshapedWorkload, WorkloadSource, WorkloadSourceFactory } from './source';

export type PolicyLoad =
  | {
      readonly ok: true;
      /** What to enforce now. */
      readonly policy: Policy;
      /** Policy containers naming workloads that are not shaped now, and why. */
      readonly waiting: readonly WaitingContainer[];
      readonly files: readonly string[];
      /** Every workload the sources found running, matched or not. */
      readonly workloads: readonly ResolvedWorkload[];
      /** Workloads found running that are not shaped, and why (status, inspect, metrics). */
      readonly unshaped: readonly UnshapedWorkload[];
    }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; readonly files: readonly string[] };

export class PolicyLoader {
  /** The workload sources the last load's Host enabled. */
  private active: readonly WorkloadSource[] = [];
  /** The sources' workload indexes at the last load, updated by the next (resolveWorkloads). */
  private readonly indexes: WorkloadIndexes = new Map();
  private following: { readonly onChange: (reason: string) => void; readonly stops: Map<WorkloadSource, Stop> } | undefined;

  constructor(
    readonly files: FilesSource,
    private readonly factories: readonly WorkloadSourceFactory[],
  ) {}

  /** Throws a SluiceError (e.g. DockerUnreachableError) when an enabled source cannot be read. */
  async load(): Promise<PolicyLoad> {
    const read = await this.files.load();
    const files = read.files;
    if (read.unreadable) return { ok: false, issues: read.issues, files };
    const host = hostSectionsOf(read.documents);
    const sources = host ? this.factories.flatMap((f) => f.fromHost(host) ?? []) : [];
    this.setActive(sources);
    const snapshots = new Map<SourceLabel, ReadSource>();
    for (const s of sources) snapshots.set(s.name, { snapshot: await s.load(), noun: s.noun });
    const extra = [...snapshots.values()];
    const issues = extra.flatMap((r) => r.snapshot.issues);
    const others = extra.flatMap((r) => r.snapshot.documents);
    const settled = settleDefaults([...read.documents, ...others], host, [...snapshots].map(([source, r]) => ({ source, defaults: r.snapshot.defaults ?? [], workloads: r.snapshot.workloads })));
    // A document joined to its source's group is a new object: its owner comes from settling.
    const owners = new Map([...workloadOwners(snapshots), ...settled.owners]);
    const unshaped: UnshapedWorkload[] = [...extra.flatMap((r) => r.snapshot.unshaped ?? []), ...settled.unshaped];
    const merged = validateGivingWay(files, read, others, settled.documents, issues, owners, unshaped);
    if (!merged.ok) return merged;
    const workloads = extra.flatMap((r) => r.snapshot.workloads);
    if (snapshots.size === 0) return { ...merged, waiting: [], workloads, unshaped };
    const resolved = resolveWorkloads(merged.policy, snapshots, this.indexes);
    if (resolved.issues.length > 0) return { ok: false, issues: resolved.issues, files };
    // A workload's own document that resolved nowhere: its workload is not shaped (no address on the bridge).
    const byName = new Map([...owners].map(([doc, owner]) => [doc.value.metadata.name, owner]));
    const waiting: WaitingContainer[] = [];
    for (const w of resolved.waiting) {
      const owner = byName.get(w.container);
      if (owner) unshaped.push({ ...owner, reason: 'no-address', detail: w.reason });
      else waiting.push(w);
    }
    return { ok: true, policy: resolved.policy, waiting, files, workloads, unshaped };
  }

  /**
   * Calls onChange whenever a load would read something new: the files, and the
   * sources the last load enabled (a reload that enables others follows them instead).
   */
  follow(onChange: (reason: string) => void): Stop {
    const stops = new Map<WorkloadSource, Stop>([[this.files, this.files.follow(onChange)]]);
    this.following = { onChange, stops };
    this.syncFollowed();
    return () => {
      for (const stop of stops.values()) stop();
      stops.clear();
      this.following = undefined;
    };
  }

  /** Stops following the files alone (workload sources still trigger reloads). */
  stopFollowingFiles(): void {
    const stop = this.following?.stops.get(this.files);
    stop?.();
    this.following?.stops.delete(this.files);
  }

  private setActive(sources: readonly WorkloadSource[]): void {
    this.active = sources;
    this.syncFollowed();
  }

  private syncFollowed(): void {
    const f = this.following;
    if (!f) return;
    for (const [source, stop] of f.stops) {
      if (source !== this.files && !this.active.includes(source)) {
        stop();
        f.stops.delete(source);
      }
    }
    for (const s of this.active) if (!f.stops.has(s)) f.stops.set(s, s.follow(f.onChange));
  }
}

type Owner = Pick<UnshapedWorkload, 'source' | 'workload'>;

/** Each workload's own document → its source and workload. */
function workloadOwners(snapshots: ReadonlyMap<SourceLabel, ReadSource>): Map<LocatedDocument, Owner> {
  const owners = new Map<LocatedDocument, Owner>();
  for (const [source, r] of snapshots) for (const d of r.snapshot.defaults ?? []) owners.set(d.document, { source, workload: d.workload });
  return owners;
}

/**
 * Validates the files with the sources' documents. A workload's own document that a
 * finding cites gives way (its workload is reported as not shaped, `invalid`) and the
 * rest is validated again: one pod must not fail the node's policy.
 */
function validateGivingWay(files: readonly string[], read: ParsedFiles, others: readonly LocatedDocument[], defaults: readonly LocatedDocument[], issues: readonly PolicyIssue[], owners: ReadonlyMap<LocatedDocument, Owner>, unshaped: UnshapedWorkload[]): PolicyLoadResult {
  let admitted = defaults;
  for (;;) {
    const merged = validateParsed(files, () => read, { documents: [...others, ...admitted], issues });
    if (merged.ok) return merged;
    const cited = admitted.filter((d) => merged.issues.some((i) => i.file === d.file));
    if (cited.length === 0) return merged;
    for (const d of cited) {
      const findings = merged.issues.filter((i) => i.file === d.file).map((i) => `${i.path}: ${i.message}`);
      unshaped.push({ ...owners.get(d)!, reason: 'invalid', detail: findings.join('; ') });
    }
    admitted = admitted.filter((d) => !cited.includes(d));
  }
}

/** The first Host document's spec, before validation: it says which sources to read. */
function hostSectionsOf(documents: readonly LocatedDocument[]): HostSections | undefined {
  for (const d of documents) if (d.value.kind === 'Host') return d.value.spec;
  return undefined;
}
