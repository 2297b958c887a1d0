// Docker as a workload source: the running containers of one daemon, their io.sluice.*
// labels as Container documents, and their addresses on the Host's bridge. Enabled by
// the Host's `docker:` section; followed through the daemon's event stream.

import type { Logger } from '../../ports/logger';
import { endKey, type VethPeers } from '../../ports/vethPeers';
import { HOST_NETNS, type NetnsLocator } from '../../tc/model';
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
    /** The Host's namespace, where the containers' host-side veths are, and how to find them. */
    private readonly ports?: { readonly hostNetns: NetnsLocator; readonly peers: VethPeers },
  ) {}

  /** Each running container's port as found, by container id and eth0 (kept while it runs). */
  private hostDevices: ReadonlyMap<string, string> = new Map();

  /** Throws DockerUnreachableError when the daemon does not answer. */
  async load(): Promise<SourceSnapshot> {
    const view = await this.engine.view();
    const extra = this.readLabels ? labelDocuments(view.containers) : { documents: [], issues: [] };
    const workloads = view.containers.map((c) => workloadOf(c, this.bridge));
    return { ...extra, workloads: await this.withHostDevices(workloads), origin: view.endpoint };
  }

  /**
   * Each container's port on the bridge, which the Engine API does not tell: found in the
   * kernel from its eth0. Without it the container is still shaped, but traffic between
   * it and its neighbours on the bridge is not (compile/ports.ts): said, not fatal.
   */
  private async withHostDevices(workloads: ResolvedWorkload[]): Promise<ResolvedWorkload[]> {
    if (!this.ports) return workloads;
    const keyOf = (w: ResolvedWorkload): string | undefined => (w.netns !== undefined && w.device !== undefined && w.addresses.v4.length + w.addresses.v6.length > 0 ? `${w.id} ${endKey({ netns: w.netns, dev: w.device })}` : undefined);
    // A running container keeps its port: only containers new since the last load are
    // looked up (each lookup opens a socket in the container's namespace).
    const known = new Map<string, string>();
    const unknown: ResolvedWorkload[] = [];
    for (const w of workloads) {
      const key = keyOf(w);
      if (key === undefined) continue;
      const port = this.hostDevices.get(key);
      if (port !== undefined) known.set(key, port);
      else unknown.push(w);
    }
    if (unknown.length > 0) {
      try {
        const ends = await this.ports.peers.hostEnds(unknown.map((w) => ({ netns: w.netns!, dev: w.device! })), this.ports.hostNetns);
        for (const w of unknown) {
          const port = ends.get(endKey({ netns: w.netns!, dev: w.device! }));
          if (port !== undefined) known.set(keyOf(w)!, port);
        }
      } catch (e) {
        this.logger.log('warn', "docker containers' ports on the bridge not found: traffic between them is not shaped until the next load", { bridge: this.bridge, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.hostDevices = known;
    return workloads.map((w) => {
      const key = keyOf(w);
      const hostDevice = key !== undefined ? known.get(key) : undefined;
      return hostDevice !== undefined ? { ...w, hostDevice } : w;
    });
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
  /** Finds the containers' ports on the bridge; without it, traffic between them is not shaped. */
  readonly vethPeers?: VethPeers;
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
      const hostNetns = host.netns === 'host' ? HOST_NETNS : host.netns;
      const ports = this.options.vethPeers ? { hostNetns, peers: this.options.vethPeers } : undefined;
      source = new DockerSource(this.engineAt(endpoint), bridge, section.labels, this.options.logger, ports);
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
