// Validation findings: every problem in every file, each pointing at file:line:column
// and the field, so an operator fixes them all in one pass.

export interface PolicyIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Field path inside the document, e.g. "spec.download.guarantee". */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

/** "policies/web.yaml:12:7: spec.download.guarantee: … (hint: …)" */
export function formatPolicyIssue(issue: PolicyIssue): string {
  // Line 0: the finding has no line (an unreadable path, a workload's label).
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  const field = issue.path ? ` ${issue.path}:` : '';
  return `${where}:${field} ${issue.message}${issue.hint ? `\n    hint: ${issue.hint}` : ''}`;
}

export const formatPath = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
