// An in-memory Docker daemon for unit tests of the resolution and the policy loader.
import type { DockerEngine, DockerEvent, EventSubscription } from '../../../src/sources/docker/engine';
import type { DockerContainer, DockerView } from '../../../src/sources/docker/model';
import { DockerUnreachableError } from '../../../src/errors';

export const DOCKER_HOST_YAML = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: dock }
spec:
  netns: sl-dk
  bridge: sl-dbr9
  subnet: 198.18.64.0/24
  capacity: { download: 100mbit, upload: 100mbit }
  docker: { endpoint: "unix:///run/sl-fake.sock" }
`;

let nextPid = 1000;

export function dockerContainer(name: string, address: string | undefined, labels: Record<string, string> = {}, bridge = 'sl-dbr9'): DockerContainer {
  return { id: `id-${name}`, name, labels, pid: nextPid++, endpoints: [{ network: 'net', bridge, ...(address ? { address } : {}) }] };
}

export const sluiceLabels = (down: string, up: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'io.sluice.download.guarantee': down,
  'io.sluice.upload.guarantee': up,
  ...extra,
});

export class FakeEngine implements DockerEngine {
  containers: DockerContainer[] = [];
  reachable = true;

  constructor(readonly endpoint = 'unix:///run/sl-fake.sock') {}

  async view(): Promise<DockerView> {
    if (!this.reachable) throw new DockerUnreachableError(this.endpoint, 'ENOENT');
    return { endpoint: this.endpoint, containers: this.containers };
  }

  async pidOf(nameOrId: string): Promise<number> {
    const c = this.containers.find((x) => x.name === nameOrId || x.id === nameOrId);
    if (!c) throw new Error(`no container ${nameOrId}`);
    return c.pid;
  }

  async follow(_onEvent: (event: DockerEvent) => void): Promise<EventSubscription> {
    return { stop: () => undefined, ended: new Promise(() => undefined) };
  }
}
