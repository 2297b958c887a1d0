// What a workload source found running, as the core needs it: a typed value, never
// policy text. The sources (src/sources/) produce it; resolution, the shaping tree, the
// compiler, traffic and metrics read it, without knowing the runtime behind it.

import type { NetnsLocator } from '../tc/model';

/** A source's label: "files", "docker", "cni", … (also the `match:` key that selects its workloads). */
export type SourceLabel = string;

/** A workload a source found running, as the core needs it: where it is and how to name it. */
export interface ResolvedWorkload {
  readonly source: SourceLabel;
  /** Stable while it runs (a Docker container id, a CNI container id). */
  readonly id: string;
  /** For people: a Docker name, a Kubernetes "namespace/pod". */
  readonly name: string;
  /** Its network namespace (/proc/<pid>/ns/net, /var/run/netns/…), when it has its own. */
  readonly netns?: NetnsLocator;
  /** Its own device inside `netns` when known (Docker's eth0): observed as the runtime's, never changed. */
  readonly device?: string;
  /** The host-side veth on a bridge Sluice does not own (a CNI plugin's): observed, never changed. */
  readonly hostDevice?: string;
  /** Its addresses on the Host's bridge. */
  readonly addresses: { readonly v4: readonly string[]; readonly v6: readonly string[] };
  readonly labels: Readonly<Record<string, string>>;
  /** The group it was started in (a compose service), for `match: { <source>: { service } }`. */
  readonly service?: string;
  /**
   * The group (a policy Group's name) its source puts it in, e.g. its Kubernetes
   * namespace's; a policy container's own `group:` wins. Resolution honours it.
   */
  readonly group?: string;
  /** Why it has no address on the Host's bridge (its networks), for the waiting note. */
  readonly placement?: string;
}
