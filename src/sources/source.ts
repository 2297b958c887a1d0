// The seam every workload source plugs into. A source (policy files, Docker, a CNI
// plugin, Podman, Kubernetes) contributes Container documents and the workloads running
// now; the compiler, topology, validation, traffic and metrics see only the generic
// ResolvedWorkload below and the source's label, never the runtime behind it.

import type { LocatedDocument } from '../policy/documents';
import type { PolicyIssue } from '../policy/issues';
import type { HostDocument } from '../policy/schema';
import type { ResolvedWorkload, SourceLabel } from '../workload/workload';

// The typed workload the core shapes lives below every folder that reads it (policy,
// compile, traffic); re-exported here for the sources.
export type { ResolvedWorkload, SourceLabel } from '../workload/workload';

/** Why a workload a source found is not shaped (sluice_workload_unshaped's `reason`). */
export const UNSHAPED_REASONS = ['invalid', 'does-not-fit', 'no-address'] as const;
export type UnshapedReason = (typeof UNSHAPED_REASONS)[number];

/** A running workload Sluice does not shape, and why: shown by status and inspect, counted in metrics. */
export interface UnshapedWorkload {
  readonly source: SourceLabel;
  /** Its display name (a pod's namespace/pod). */
  readonly workload: string;
  readonly reason: UnshapedReason;
  /** What an operator reads: which value, which sum, what to change. */
  readonly detail: string;
}

/**
 * A document a workload brings for itself (a pod's annotations): it shapes that one
 * workload unless a policy file names the workload, and only while it fits the link.
 */
export interface WorkloadDefault {
  /** The workload it shapes (ResolvedWorkload.id). */
  readonly workloadId: string;
  readonly workload: string;
  readonly document: LocatedDocument;
}

/** What one read of a source yields. */
export interface SourceSnapshot {
  /** Container documents it contributes (Docker labels), validated with the files'. */
  readonly documents: readonly LocatedDocument[];
  /** Per-workload documents that give way to the files (CNI pods), in the order they are admitted. */
  readonly defaults?: readonly WorkloadDefault[];
  /** Workloads it found but makes no document for (annotations that can never be valid). */
  readonly unshaped?: readonly UnshapedWorkload[];
  /** Documents it could not turn into policy (a bad label), reported like a file's. */
  readonly issues: readonly PolicyIssue[];
  /** Workloads running now; `match: { <label>: … }` entries resolve against these. */
  readonly workloads: readonly ResolvedWorkload[];
  /** Where it was read (a socket URL, a directory), for messages. */
  readonly origin: string;
}

/** Ends a follow; calling it twice is harmless. */
export type Stop = () => void;

export interface WorkloadSource {
  readonly name: SourceLabel;
  /** What messages call one of its workloads: "Docker container", "CNI attachment". */
  readonly noun: string;
  /** Throws a SluiceError (e.g. DockerUnreachableError) when the source cannot be read at all. */
  load(): Promise<SourceSnapshot>;
  /** Calls onChange (debounced, with a reason for the log) whenever a load would read something new. */
  follow(onChange: (reason: string) => void): Stop;
}

/**
 * How a source comes to be: the Host document enables it (its `spec.<label>` section).
 * One binding per source in the composition root; the policy loader asks each factory.
 */
export interface WorkloadSourceFactory {
  readonly label: SourceLabel;
  /** The source the Host asks for, or undefined when its section is absent. */
  fromHost(host: HostSections): WorkloadSource | undefined;
}

/** The Host document's spec, as parsed (before validation), for factories to read their section from. */
export type HostSections = HostDocument['spec'];

