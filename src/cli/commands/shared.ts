// Helpers several commands share: the container a command resolves its parts from, and
// loading the policy in force through the policy loader.

import { Option } from 'commander';
import type { Container } from 'inversify';
import { formatPolicyIssue } from '../../policy/load';
import type { Policy } from '../../policy/model';
import type { PolicyLoad, PolicyLoader } from '../../sources/loader';
import { buildContainer, type WiringOptions } from '../../wiring/container';
import { TOKENS } from '../../wiring/tokens';
import { EXIT, printJson, reportError, type OutputFormat } from '../output';

export interface LoadOptions {
  /** --docker-endpoint */
  readonly dockerEndpoint?: string;
}

export const dockerEndpointOption = (): Option =>
  new Option('--docker-endpoint <url>', "Docker Engine API socket for a Docker host (default: the Host's docker.endpoint, then $DOCKER_HOST, then unix:///var/run/docker.sock)");

/**
 * Where a host keeps its policy (the systemd unit and the DaemonSet mount it there): the
 * paths of every command that is given none.
 */
export const DEFAULT_POLICY_PATHS: readonly string[] = ['/etc/sluice/'];

export type LoadedPolicy = Extract<PolicyLoad, { ok: true }>;

/** The composition root for a command over policy `paths`. */
export function commandContainer(paths: readonly string[], options: LoadOptions & Omit<WiringOptions, 'paths' | 'dockerEndpoint'> = {}): Container {
  return buildContainer({ ...options, paths });
}

/**
 * Loads the policy in force (files, plus what the workload sources their Host enables
 * contribute), or prints every issue (exit 1) or why a source could not be read
 * (exit 3) and returns undefined. Containers waiting for their workload are noted on stderr.
 */
export async function loadSourceOrReport(loader: PolicyLoader, format: OutputFormat): Promise<LoadedPolicy | undefined> {
  let result: PolicyLoad;
  try {
    result = await loader.load();
  } catch (e) {
    process.exitCode = reportError(e, format);
    return undefined;
  }
  if (result.ok) {
    if (format === 'text') for (const w of result.waiting) process.stderr.write(`note: ${w.container} is not shaped now: ${w.reason}\n`);
    return result;
  }
  if (format === 'json') printJson({ ok: false, issues: result.issues });
  else {
    for (const issue of result.issues) process.stderr.write(`${formatPolicyIssue(issue)}\n`);
    process.stderr.write(`\n${result.issues.length} error(s); nothing was changed. Run \`sluice validate\` for details.\n`);
  }
  process.exitCode = EXIT.invalid;
  return undefined;
}

export async function loadOrReport(container: Container, format: OutputFormat): Promise<Policy | undefined> {
  return (await loadSourceOrReport(container.get<PolicyLoader>(TOKENS.PolicyLoader), format))?.policy;
}
