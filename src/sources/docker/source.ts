// Docker as a workload source: the running containers of one daemon, their io.sluice.*
// labels as Container documents, and their addresses on the Host's bridge. Enabled by
// the Host's `docker:` section; followed through the daemon's event stream.

import type { Logger } from '../../ports/logger';
import type { HostSections, ResolvedWorkload, SourceSnapshot, Stop, WorkloadSource, WorkloadSourceFactory } from '../source';
import { dockerEndpoint, DockerodeEngine, type DockerEngine } from './engine';
import { DockerFollower } from './follow';
import { labelDocuments } from './labels';
import { COMPOSE_SERVICE_LABEL, type DockerContainer } from './model';

export const DOCKER = 'docker';

export class DockerSource implements WorkloadSource {
  readonly name = DOCKER;
  readonly noun = 'Docker container';

  constructor(
    readonly engine: DockerEngine,
    /** The Host's bridge: a container's address there is the one shaped. */
    private readonly bridge: string,
    private readonly readLabels: boolean,
    private readonly logger: Logger,
  ) {}

  /** Throws DockerUnreachableError when the daemon does not answer. */
  async load(): Promise<SourceSnapshot> {
    const view = await this.engine.view();
    const extra = this.readLabels ? labelDocuments(view.containers) : { documents: [], issues: [] };
    return { ...extra, workloads: view.containers.map((c) => workloadOf(c, this.bridge)), origin: view.endpoint };
  }

  follow(onChange: (reason: string) => void): Stop {
    const follower = new DockerFollower(this.engine, this.logger, onChange);
    follower.start();
    return () => follower.stop();
  }
}

/** A running container as the core sees it. Pure. */
export function workloadOf(d: DockerContainer, bridge: string): ResolvedWorkload {
  const onBridge = d.endpoints.find((e) => e.bridge === bridge && e.address);
  const service = d.labels[COMPOSE_SERVICE_LABEL];
  return {
    source: DOCKER,
    id: d.id,
    name: d.name,
    netns: `/proc/${d.pid}/ns/net`,
    // Docker names the devices eth0, eth1… in attach order, which the API does not tell;
    // with one network it is certainly eth0.
    ...(d.endpoints.length === 1 ? { device: 'eth0' } : {}),
    addresses: { v4: onBridge?.address ? [onBridge.address] : [], v6: onBridge?.address6 ? [onBridge.address6] : [] },
    labels: d.labels,
    ...(service !== undefined ? { service } : {}),
    placement: d.endpoints.map((e) => `${e.network}${e.bridge ? ` (bridge ${e.bridge})` : ''}`).join(', ') || 'none',
  };
}

export interface DockerSourceOptions {
  /** --docker-endpoint: wins over the policy and $DOCKER_HOST. */
  readonly endpoint?: string;
  /** Tests substitute the engine. */
  readonly engineFor?: (endpoint: string) => DockerEngine;
  readonly logger: Logger;
}

/**
 * One engine per endpoint and one source per (endpoint, bridge, labels): a reload that
 * changes nothing keeps following the same event stream.
 */
export class DockerSourceFactory implements WorkloadSourceFactory {
  readonly label = DOCKER;
  private readonly sources = new Map<string, DockerSource>();
  private readonly engines = new Map<string, DockerEngine>();

  constructor(private readonly options: DockerSourceOptions) {}

  fromHost(host: HostSections): DockerSource | undefined {
    const section = host.docker;
    if (!section) return undefined;
    const bridge = host.bridge;
    const endpoint = dockerEndpoint(this.options.endpoint, section.endpoint);
    const key = `${endpoint}\n${bridge}\n${section.labels}`;
    let source = this.sources.get(key);
    if (!source) {
      source = new DockerSource(this.engineAt(endpoint), bridge, section.labels, this.options.logger);
      this.sources.set(key, source);
    }
    return source;
  }

  private engineAt(endpoint: string): DockerEngine {
    let engine = this.engines.get(endpoint);
    if (!engine) {
      engine = this.options.engineFor ? this.options.engineFor(endpoint) : new DockerodeEngine(endpoint);
      this.engines.set(endpoint, engine);
    }
    return engine;
  }
}
