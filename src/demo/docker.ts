// The Docker version of the demo: the compose project of docker-compose.test.yml on a
// test daemon in its own namespace, shaped from its labels (policies/docker/), driven
// with the same phases and judged against the same oracle as the sandbox.

import type { CompiledPolicy } from '../compile';
import type { PolicyLoader } from '../sources/loader';
import { buildContainer } from '../wiring/container';
import { TOKENS } from '../wiring/tokens';
import { compose, ensureImage, TestDaemon, type Progress } from '../sources/docker/testbed';
import type { Policy } from '../policy/model';
import { ExecutionFailedError } from '../apply/errors';
import { formatPolicyIssue } from '../policy/load';
import type { DemoDeps, TrafficSite } from './run';
import { packageFile } from '../packageFiles';

export const DOCKER_POLICY = `${packageFile('policies', 'docker')}/`;

export interface DockerBed {
  readonly policy: Policy;
  readonly compiled: CompiledPolicy;
  readonly site: TrafficSite;
}

/** Undoes what bringUp did, in reverse; safe to call at any point, and twice. */
export class DockerDemo {
  private daemon: TestDaemon | undefined;
  private composed = false;
  private policy: Policy | undefined;

  constructor(
    private readonly deps: DemoDeps,
    private readonly progress: Progress,
    private readonly policyPaths: readonly string[] = [DOCKER_POLICY],
  ) {}

  async bringUp(): Promise<DockerBed> {
    this.daemon = await TestDaemon.ensure(this.progress);
    await ensureImage(this.daemon.endpoint, this.progress);
    this.progress('docker-compose up (docker-compose.test.yml, project sl-test)');
    this.composed = true;
    await compose(this.daemon.endpoint, ['up', '-d', '--force-recreate']);
    const loader = buildContainer({ paths: this.policyPaths, dockerEndpoint: this.daemon.endpoint }).get<PolicyLoader>(TOKENS.PolicyLoader);
    const loaded = await loader.load();
    if (!loaded.ok) throw new Error(`the Docker demo policy is invalid:\n${loaded.issues.map(formatPolicyIssue).join('\n')}`);
    for (const w of loaded.waiting) this.progress(`note: ${w.container} is not shaped: ${w.reason}`);
    this.policy = loaded.policy;
    const applied = await this.deps.applier.apply(loaded.policy);
    if (applied.report.failed) throw new ExecutionFailedError('applying the Docker demo policy', applied.report);
    const shaped = applied.compiled.containers.filter((c) => c.workload?.netns && c.address);
    this.progress(`applied ${applied.report.applied.length} operations: ${shaped.map((c) => `${c.name} (${c.workload!.name}, ${c.address})`).join(', ')} on ${loaded.policy.host.bridge}`);
    const site: TrafficSite = {
      peerNetns: loaded.policy.host.netns,
      peerAddress: loaded.policy.host.gateway,
      containers: shaped.map((c) => ({ name: c.name, netns: c.workload!.netns!, address: c.address! })),
    };
    return { policy: loaded.policy, compiled: applied.compiled, site };
  }

  async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (what: () => Promise<unknown>): Promise<void> => {
      try {
        await what();
      } catch (e) {
        errors.push(e);
      }
    };
    if (this.policy) await attempt(() => this.deps.applier.destroy(this.policy!.host.name, this.policy));
    this.policy = undefined;
    if (this.composed && this.daemon) await attempt(() => compose(this.daemon!.endpoint, ['down', '--remove-orphans', '--timeout', '1']));
    this.composed = false;
    if (this.daemon) await attempt(() => this.daemon!.stop());
    this.daemon = undefined;
    if (errors.length > 0) throw errors[0];
  }
}
