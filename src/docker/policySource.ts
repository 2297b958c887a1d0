// The policy in force: the files, plus (for a Docker host) the io.sluice.* labels of
// running containers, validated together, with Docker matches resolved to addresses;
// or (for a CNI host) a document per pod the sluice CNI plugin recorded.
// Commands and the daemon load policies only through here.

import { AttachmentStore } from '../cni/store';
import { cniDocuments } from '../cni/documents';
import { parseFiles, type LocatedDocument, type ParsedFiles } from '../policy/documents';
import type { HostDocument } from '../policy/schema';
import { readPolicyFiles, validateParsed, type PolicyIssue } from '../policy/load';
import type { DockerHostPolicy, Policy } from '../policy/model';
import { dockerEndpoint, DockerodeEngine, type DockerEngine } from './engine';
import { labelDocuments } from './labels';
import type { DockerView } from './model';
import { resolveDocker, type WaitingContainer } from './resolve';

export type PolicySourceResult =
  | {
      readonly ok: true;
      /** What to enforce now. */
      readonly policy: Policy;
      /** Policy containers naming Docker containers that are not shaped now, and why. */
      readonly waiting: readonly WaitingContainer[];
      readonly files: readonly string[];
      readonly docker?: DockerView;
    }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; readonly files: readonly string[] };

export interface PolicySourceOptions {
  /** --docker-endpoint: wins over the policy and $DOCKER_HOST. */
  readonly dockerEndpoint?: string;
  /** Tests substitute the engine. */
  readonly engineFor?: (endpoint: string) => DockerEngine;
}

export class PolicySource {
  private readonly engines = new Map<string, DockerEngine>();

  constructor(
    readonly paths: readonly string[],
    private readonly options: PolicySourceOptions = {},
  ) {}

  /** Throws DockerUnreachableError when the policy needs Docker and the daemon does not answer. */
  async load(): Promise<PolicySourceResult> {
    const read = await readPolicyFiles(this.paths);
    const files = read.files.map((f) => f.path);
    if (read.issues.length > 0) return { ok: false, issues: read.issues, files };
    // Parsed once: the Host says whether Docker is read (and its labels merged) before validation.
    const parsed = parseFiles(read.files);
    const host = hostSpecOf(parsed.documents);
    if (host?.cni) return this.loadCni(files, parsed, host);
    const docker = host?.docker;
    const view = docker ? await this.engineFor(docker)!.view() : undefined;
    const merged = validateParsed(files, () => parsed, view && docker?.labels ? labelDocuments(view.containers) : undefined);
    if (!merged.ok) return merged;
    if (!view) return { ...merged, waiting: [] };
    const resolved = resolveDocker(merged.policy, view);
    if (resolved.issues.length > 0) return { ok: false, issues: resolved.issues, files };
    return { ok: true, policy: resolved.policy, waiting: resolved.waiting, files, docker: view };
  }

  /** A CNI host: the files plus a document per pod the plugin recorded, each bound to its pod. */
  private async loadCni(files: readonly string[], parsed: ParsedFiles, host: HostDocument['spec']): Promise<PolicySourceResult> {
    const attachments = await new AttachmentStore(host.cni!.stateDir).list(host.cni!.network);
    const pods = cniDocuments(attachments, host);
    const merged = validateParsed(files, () => parsed, { documents: pods.documents, issues: [] });
    if (!merged.ok) return merged;
    const containers = merged.policy.containers.map((c) => {
      const cni = pods.bindings.get(c.name);
      return cni ? { ...c, cni } : c;
    });
    return { ok: true, policy: { ...merged.policy, containers }, waiting: pods.waiting, files };
  }

  /** The engine a Docker host talks to (one per endpoint); undefined for other hosts. */
  engineFor(docker: Pick<DockerHostPolicy, 'endpoint'> | undefined): DockerEngine | undefined {
    if (!docker) return undefined;
    const endpoint = dockerEndpoint(this.options.dockerEndpoint, docker.endpoint);
    let engine = this.engines.get(endpoint);
    if (!engine) {
      engine = this.options.engineFor ? this.options.engineFor(endpoint) : new DockerodeEngine(endpoint);
      this.engines.set(endpoint, engine);
    }
    return engine;
  }
}

/** The first Host document's spec, before validation (its docker and cni sections say what else is read). */
function hostSpecOf(documents: readonly LocatedDocument[]): HostDocument['spec'] | undefined {
  for (const d of documents) if (d.value.kind === 'Host') return d.value.spec;
  return undefined;
}
