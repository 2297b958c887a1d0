// The policy in force: the files, plus what the workload sources their Host enables
// contribute (label documents, running workloads), validated together, with workload
// matches resolved to addresses. Commands and the daemon load policies only through here.

import type { LocatedDocument } from '../policy/documents';
import { validateParsed, type PolicyIssue } from '../policy/load';
import type { Policy } from '../policy/model';
import type { FilesSource } from './files/source';
import { resolveWorkloads, type ReadSource, type WaitingContainer } from './resolve';
import type { HostSections, ResolvedWorkload, SourceLabel, Stop, WorkloadSource, WorkloadSourceFactory } from './source';

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
    }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; readonly files: readonly string[] };

export class PolicyLoader {
  /** The workload sources the last load's Host enabled. */
  private active: readonly WorkloadSource[] = [];
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
    const merged = validateParsed(files, () => read, {
      documents: extra.flatMap((r) => r.snapshot.documents),
      issues: extra.flatMap((r) => r.snapshot.issues),
    });
    if (!merged.ok) return merged;
    const workloads = extra.flatMap((r) => r.snapshot.workloads);
    if (snapshots.size === 0) return { ...merged, waiting: [], workloads };
    const resolved = resolveWorkloads(merged.policy, snapshots);
    if (resolved.issues.length > 0) return { ok: false, issues: resolved.issues, files };
    return { ok: true, policy: resolved.policy, waiting: resolved.waiting, files, workloads };
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

/** The first Host document's spec, before validation: it says which sources to read. */
function hostSectionsOf(documents: readonly LocatedDocument[]): HostSections | undefined {
  for (const d of documents) if (d.value.kind === 'Host') return d.value.spec;
  return undefined;
}
