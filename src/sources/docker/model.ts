// What Sluice needs to know of a Docker daemon, as plain data: the running containers,
// their labels and their addresses on each network bridge. The engine (engine.ts) reads
// it over the Engine API; resolution and labels (pure) work on it.

export interface DockerEndpointAddress {
  /** The Docker network's name (e.g. "sl-test_sl-test"). */
  readonly network: string;
  /** The Linux bridge behind that network, when it is a bridge network. */
  readonly bridge?: string;
  readonly address?: string;
  /** GlobalIPv6Address on that network, on an IPv6-enabled Docker network (canonical text). */
  readonly address6?: string;
}

export interface DockerContainer {
  readonly id: string;
  /** Without Docker's leading "/". */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The container's main process: its network namespace is /proc/<pid>/ns/net. */
  readonly pid: number;
  readonly endpoints: readonly DockerEndpointAddress[];
}

export interface DockerView {
  /** Where the view was read (unix:///…), for messages. */
  readonly endpoint: string;
  /** Running containers only: a stopped container has no address to shape. */
  readonly containers: readonly DockerContainer[];
}

/** docker-compose (v1 and v2) writes the service a container belongs to here. */
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

export const DEFAULT_DOCKER_ENDPOINT = 'unix:///var/run/docker.sock';
