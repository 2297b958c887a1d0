// The policy loader as commands get it, from the composition root; a test may swap the
// Docker engine for a fake through the container.
import type { Attachment } from '../../src/cni/attachment';
import type { DockerEngine } from '../../src/sources/docker/engine';
import { DockerSourceFactory } from '../../src/sources/docker/source';
import type { PolicyLoader } from '../../src/sources/loader';
import type { WorkloadSourceFactory } from '../../src/sources/source';
import { buildContainer } from '../../src/wiring/container';
import { silentLogger } from '../../src/ports/logger';
import { TOKENS } from '../../src/wiring/tokens';

export function policyLoader(paths: readonly string[], engine?: DockerEngine): PolicyLoader {
  const container = buildContainer({ paths });
  if (engine) container.rebindSync<WorkloadSourceFactory>(TOKENS.WorkloadSourceFactory).toConstantValue(new DockerSourceFactory({ logger: silentLogger, engineFor: () => engine }));
  return container.get<PolicyLoader>(TOKENS.PolicyLoader);
}

/** A pod's CNI record on network `pods`, bridge cni0, at 198.18.32.<host>. */
export const cniPod = (name: string, host: number, addedAt: number, annotations: Record<string, string> = {}, namespace = 'shop'): Attachment => ({
  format: 1,
  network: 'pods',
  containerId: `ctr${name}`,
  ifname: 'eth0',
  netns: `/run/netns/${name}`,
  hostVeth: `veth${name}`,
  bridge: 'cni0',
  addresses: [`198.18.32.${host}`],
  annotations,
  pod: { namespace, name },
  addedAt,
});
