// Policy texts in, a validated Policy or every issue out. Pure: reading files is the
// files source's (src/sources/files).

import { parseFiles, type LocatedDocument, type ParsedFiles, type PolicyFileText } from './documents';
import type { PolicyIssue } from './issues';
import type { Policy } from './model';
import { validateDocuments } from './validate';

export type { PolicyIssue } from './issues';
export { formatPolicyIssue } from './issues';

export type PolicyLoadResult =
  | { readonly ok: true; readonly policy: Policy; readonly files: readonly string[] }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; readonly files: readonly string[] };

/** Documents from another source than files (a workload source's labels), merged before validation. */
export interface ExtraDocuments {
  readonly documents: readonly LocatedDocument[];
  readonly issues: readonly PolicyIssue[];
}

export function parsePolicyTexts(files: readonly PolicyFileText[], extra?: ExtraDocuments): PolicyLoadResult {
  return validateParsed(files.map((f) => f.path), () => parseFiles(files), extra);
}

/**
 * Validates parsed files (parsed once, e.g. to learn which workload sources the Host enables)
 * together with `extra` documents.
 */
export function validateParsed(names: readonly string[], parse: () => ParsedFiles, extra?: ExtraDocuments): PolicyLoadResult {
  try {
    const fromFiles = parse();
    const parsed = { documents: [...fromFiles.documents, ...(extra?.documents ?? [])], issues: [...fromFiles.issues, ...(extra?.issues ?? [])] };
    const hasHost = parsed.documents.some((d) => d.value.kind === 'Host');
    // Meaning is still checked on the documents that parsed, so one run shows every
    // problem; without a valid Host there is nothing to check them against.
    if (parsed.issues.length > 0 && !hasHost) return { ok: false, issues: parsed.issues, files: names };
    const result = validateDocuments(parsed.documents, names);
    if (result.ok && parsed.issues.length === 0) return { ok: true, policy: result.policy, files: names };
    return { ok: false, issues: [...parsed.issues, ...(result.ok ? [] : result.issues)], files: names };
  } catch (e) {
    // A bug must still come out as a finding, never as a crash of `validate`.
    return { ok: false, files: names, issues: [{ file: names[0] ?? '', line: 1, column: 1, path: '', message: `internal error while validating: ${(e as Error).message}`, hint: 'please report this with the policy files' }] };
  }
}
