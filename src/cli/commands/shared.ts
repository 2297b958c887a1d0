// Helpers several commands share.

import { formatPolicyIssue, loadPolicyFromPaths } from '../../policy/load';
import type { Policy } from '../../policy/model';
import { EXIT, printJson, type OutputFormat } from '../output';

/** Loads the policy, or prints every issue, sets exit status 1 and returns undefined. */
export async function loadOrReport(paths: readonly string[], format: OutputFormat): Promise<Policy | undefined> {
  const result = await loadPolicyFromPaths(paths);
  if (result.ok) return result.policy;
  if (format === 'json') printJson({ ok: false, issues: result.issues });
  else {
    for (const issue of result.issues) process.stderr.write(`${formatPolicyIssue(issue)}\n`);
    process.stderr.write(`\n${result.issues.length} error(s); nothing was changed. Run \`sluice validate\` for details.\n`);
  }
  process.exitCode = EXIT.invalid;
  return undefined;
}
