// Helpers several commands share.

import { Option } from 'commander';
import { PolicySource, type PolicySourceResult } from '../../docker/policySource';
import { formatPolicyIssue } from '../../policy/load';
import type { Policy } from '../../policy/model';
import { EXIT, printJson, reportError, type OutputFormat } from '../output';

export interface LoadOptions {
  /** --docker-endpoint */
  readonly dockerEndpoint?: string;
}

export const dockerEndpointOption = (): Option =>
  new Option('--docker-endpoint <url>', "Docker Engine API socket for a Docker host (default: the Host's docker.endpoint, then $DOCKER_HOST, then unix:///var/run/docker.sock)");

export type LoadedPolicy = Extract<PolicySourceResult, { ok: true }>;

/**
 * Loads the policy in force (files, plus Docker labels and containers for a Docker
 * host), or prints every issue (exit 1) or why Docker could not be read (exit 3) and
 * returns undefined. Containers waiting for their Docker container are noted on stderr.
 */
export async function loadSourceOrReport(source: PolicySource, format: OutputFormat): Promise<LoadedPolicy | undefined> {
  let result: PolicySourceResult;
  try {
    result = await source.load();
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

export async function loadOrReport(paths: readonly string[], format: OutputFormat, options: LoadOptions = {}): Promise<Policy | undefined> {
  return (await loadSourceOrReport(policySource(paths, options), format))?.policy;
}

export const policySource = (paths: readonly string[], options: LoadOptions): PolicySource =>
  new PolicySource(paths, options.dockerEndpoint ? { dockerEndpoint: options.dockerEndpoint } : {});
