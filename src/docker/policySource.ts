// The policy in force: the files, plus (for a Docker host) the io.sluice.* labels of
// running containers, validated together, with Docker matches resolved to addresses.
// Commands and the daemon load policies only through here.

import { parsePolicyTexts, readPolicyFiles, type PolicyIssue } from '../policy/load';
import type { Policy } from '../policy/model';
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
    const fromFiles = parsePolicyTexts(read.files);
    if (!fromFiles.ok || !fromFiles.policy.host.docker) return fromFiles.ok ? { ...fromFiles, waiting: [] } : fromFiles;
    const engine = this.engineFor(fromFiles.policy);
    const view = await engine!.view();
    const merged = fromFiles.policy.host.docker.labels ? parsePolicyTexts(read.files, labelDocuments(view.containers)) : fromFiles;
    if (!merged.ok) return merged;
    const resolved = resolveDocker(merged.policy, view);
    if (resolved.issues.length > 0) return { ok: false, issues: resolved.issues, files };
    return { ok: true, policy: resolved.policy, waiting: resolved.waiting, files, docker: view };
  }

  /** The engine a Docker host policy talks to (one per endpoint); undefined for other hosts. */
  engineFor(policy: Policy): DockerEngine | undefined {
    if (!policy.host.docker) return undefined;
    const endpoint = dockerEndpoint(this.options.dockerEndpoint, policy.host.docker.endpoint);
    let engine = this.engines.get(endpoint);
    if (!engine) {
      engine = this.options.engineFor ? this.options.engineFor(endpoint) : new DockerodeEngine(endpoint);
      this.engines.set(endpoint, engine);
    }
    return engine;
  }
}
