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

/** What one read of a source yields. */
export interface SourceSnapshot {
  /** Container documents it contributes (Docker labels), validated with the files'. */
  readonly documents: readonly LocatedDocument[];
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
