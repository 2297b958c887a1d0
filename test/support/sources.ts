// The policy loader as commands get it, from the composition root; a test may swap the
// Docker engine for a fake through the container.
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
