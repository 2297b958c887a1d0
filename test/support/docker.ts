// Docker test helpers: the test daemon of src/sources/docker/testbed.ts, a bridge network of a
// test's own (sl- bridge, 198.18.0.0/15 subnet) and containers on it, all removed after.
import Docker from 'dockerode';
import { TESTBED } from '../../src/sources/docker/testbed';

export const docker = (): Docker => new Docker({ socketPath: TESTBED.endpoint.slice('unix://'.length) });

export interface TestNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
}

export async function createNetwork(net: TestNetwork): Promise<void> {
  await removeNetwork(net.name);
  await docker().createNetwork({
    Name: net.name,
    Driver: 'bridge',
    Options: { 'com.docker.network.bridge.name': net.bridge },
    IPAM: { Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
  });
}

export async function removeNetwork(name: string): Promise<void> {
  const d = docker();
  for (const c of await d.listContainers({ all: true, filters: { network: [name] } })) await d.getContainer(c.Id).remove({ force: true });
  await d.getNetwork(name).remove().catch(() => undefined);
}

/** A container that runs an iperf3 server on `net`, created (not started). */
export async function createContainer(name: string, net: TestNetwork, labels: Record<string, string> = {}): Promise<Docker.Container> {
  const d = docker();
  await d.getContainer(name).remove({ force: true }).catch(() => undefined);
  return d.createContainer({ name, Image: TESTBED.image, Cmd: ['iperf3', '-s'], Labels: labels, StopSignal: 'SIGKILL', HostConfig: { NetworkMode: net.name } });
}

export const hostYaml = (host: string, net: TestNetwork, ifb: string, labels: boolean): string => `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: ${host} }
spec:
  netns: ${TESTBED.netns}
  bridge: ${net.bridge}
  ifb: ${ifb}
  subnet: ${net.subnet}
  capacity: { download: 100mbit, upload: 100mbit }
  docker: { endpoint: "${TESTBED.endpoint}", labels: ${labels} }
`;

export const containerYaml = (name: string, match: string, guarantee = '10mbit'): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { docker: ${match} }
  download: { guarantee: ${guarantee} }
  upload: { guarantee: ${guarantee} }
`;
