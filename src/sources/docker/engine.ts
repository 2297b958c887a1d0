// The Docker Engine API, through dockerode on the daemon's unix socket: the running
// containers with their labels and bridge addresses, their pids, and the event stream
// that tells the daemon when to look again.

import { canonicalIpv6 } from '../../net/ipv6';
import type Docker from 'dockerode';
import { DockerUnreachableError } from '../../errors';
import { DEFAULT_DOCKER_ENDPOINT, type DockerContainer, type DockerEndpointAddress, type DockerView } from './model';

/** A container or network change worth re-reading the view for. */
export interface DockerEvent {
  readonly type: string;
  readonly action: string;
  readonly id: string;
  readonly name?: string;
}

export interface EventSubscription {
  stop(): void;
  /** Settles when the stream ends (the daemon went away, or stop()). */
  readonly ended: Promise<void>;
}

export interface DockerEngine {
  readonly endpoint: string;
  view(): Promise<DockerView>;
  /** The main process of a running container (its network namespace is /proc/<pid>/ns/net). */
  pidOf(nameOrId: string): Promise<number>;
  follow(onEvent: (event: DockerEvent) => void): Promise<EventSubscription>;
}

/** Flag first, then the policy, then $DOCKER_HOST, then Docker's default socket. */
export function dockerEndpoint(flag: string | undefined, policyEndpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? policyEndpoint ?? env['DOCKER_HOST'] ?? DEFAULT_DOCKER_ENDPOINT;
}

const REQUEST_TIMEOUT_MS = 5000;
/** Only these change which containers run or where they are attached. */
const RELEVANT: Readonly<Record<string, readonly string[]>> = {
  container: ['start', 'die', 'destroy', 'rename', 'update'],
  network: ['connect', 'disconnect', 'destroy'],
};

/**
 * A dockerode client for a unix:// endpoint. Loaded on first use: dockerode pulls in
 * ~60 modules (~270 ms) that hosts without Docker never need.
 */
export function dockerClient(endpoint: string, timeoutMs?: number): Docker {
  if (!endpoint.startsWith('unix://')) throw new DockerUnreachableError(endpoint, 'only unix:// sockets are supported');
  const Dockerode = (require('dockerode') as { default?: typeof Docker } & typeof Docker);
  return new (Dockerode.default ?? Dockerode)({ socketPath: endpoint.slice('unix://'.length), ...(timeoutMs ? { timeout: timeoutMs } : {}) });
}

export class DockerodeEngine implements DockerEngine {
  private client: Docker | undefined;
  /** Pids of the containers running at the last view, by id. */
  private pids = new Map<string, number>();

  constructor(readonly endpoint: string) {
    if (!endpoint.startsWith('unix://')) throw new DockerUnreachableError(endpoint, 'only unix:// sockets are supported');
  }

  private get docker(): Docker {
    this.client ??= dockerClient(this.endpoint, REQUEST_TIMEOUT_MS);
    return this.client;
  }

  async view(): Promise<DockerView> {
    const [containers, networks] = await this.call(() => Promise.all([this.docker.listContainers({ all: false }), this.docker.listNetworks()]));
    const bridgeOf = new Map(networks.map((n) => [n.Id, bridgeName(n)]));
    const running = containers.filter((c) => c.State === 'running');
    const pids = await this.pidsOf(running.map((c) => c.Id));
    return {
      endpoint: this.endpoint,
      containers: running.flatMap((c, i): DockerContainer[] => (pids[i] ? [{
        id: c.Id,
        name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        labels: c.Labels ?? {},
        pid: pids[i]!,
        endpoints: Object.entries(c.NetworkSettings?.Networks ?? {}).map(([network, info]): DockerEndpointAddress => {
          const bridge = bridgeOf.get(info.NetworkID);
          const address6 = info.GlobalIPv6Address ? canonicalIpv6(info.GlobalIPv6Address) : undefined;
          return { network, ...(bridge ? { bridge } : {}), ...(info.IPAddress ? { address: info.IPAddress } : {}), ...(address6 ? { address6 } : {}) };
        }),
      }] : [])),
    };
  }

  /**
   * The list does not carry pids: one inspect per container, but only for containers not
   * seen running before (a pid does not change while its container runs, and follow()
   * forgets it on any event of that container; every view follows an event, so this is
   * the hot path of a busy daemon). A container that stops in between gets 0 and is left out.
   */
  private async pidsOf(ids: readonly string[]): Promise<number[]> {
    const known = this.pids;
    const pids = await Promise.all(ids.map((id) => known.get(id) ?? this.pidOf(id).catch(() => 0)));
    this.pids = new Map(ids.flatMap((id, i) => (pids[i] ? [[id, pids[i]!] as const] : [])));
    return pids;
  }

  async pidOf(nameOrId: string): Promise<number> {
    const info = await this.call(() => this.docker.getContainer(nameOrId).inspect());
    if (!info.State.Running || !info.State.Pid) throw new Error(`Docker container ${nameOrId} is not running`);
    return info.State.Pid;
  }

  async follow(onEvent: (event: DockerEvent) => void): Promise<EventSubscription> {
    // Events missed before this subscription may have restarted containers.
    this.pids.clear();
    const stream = (await this.call(() => this.docker.getEvents({ filters: { type: ['container', 'network'] } }))) as NodeJS.ReadableStream & { destroy?(): void };
    let buffered = '';
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = parseEvent(line);
        if (!event || !RELEVANT[event.type]?.includes(event.action)) continue;
        // A restart keeps the id and changes the pid.
        if (event.type === 'container') this.pids.delete(event.id);
        onEvent(event);
      }
    });
    return { stop: () => stream.destroy?.(), ended };
  }

  /** Socket-level failures become one error that says where Sluice looked. */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code && ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'ETIMEDOUT', 'EPIPE'].includes(err.code)) throw new DockerUnreachableError(this.endpoint, err.code);
      if (/timeout/i.test(err.message)) throw new DockerUnreachableError(this.endpoint, 'no answer in 5 s');
      throw e;
    }
  }
}

/** The Linux bridge of a bridge network: named in its options, else br-<first 12 of the id>. */
function bridgeName(n: Docker.NetworkInspectInfo): string | undefined {
  if (n.Driver !== 'bridge') return undefined;
  return n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;
}

function parseEvent(line: string): DockerEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const raw = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    if (!raw.Type || !raw.Action) return undefined;
    // Actions such as "exec_start: sh" carry a suffix.
    const action = raw.Action.split(':')[0]!;
    const name = raw.Actor?.Attributes?.['name'];
    return { type: raw.Type, action, id: raw.Actor?.ID ?? '', ...(name ? { name } : {}) };
  } catch {
    return undefined;
  }
}
