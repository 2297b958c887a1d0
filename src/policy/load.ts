// Policy files in, a validated Policy or every issue out. parsePolicyTexts is pure;
// loadPolicyFromPaths reads files and directories (*.yaml, *.yml, *.json, sorted).

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFiles, type LocatedDocument, type ParsedFiles, type PolicyFileText } from './documents';
import type { PolicyIssue } from './issues';
import type { Policy } from './model';
import { validateDocuments } from './validate';

export type { PolicyIssue } from './issues';
export { formatPolicyIssue } from './issues';

export type PolicyLoadResult =
  | { readonly ok: true; readonly policy: Policy; readonly files: readonly string[] }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; readonly files: readonly string[] };

const POLICY_FILE = /\.(ya?ml|json)$/;
/** The schema describes documents; it is not itself a policy. */
const NOT_POLICY = new Set(['schema.json']);

/** Documents from another source than files (Docker labels), merged before validation. */
export interface ExtraDocuments {
  readonly documents: readonly LocatedDocument[];
  readonly issues: readonly PolicyIssue[];
}

export function parsePolicyTexts(files: readonly PolicyFileText[], extra?: ExtraDocuments): PolicyLoadResult {
  return validateParsed(files.map((f) => f.path), () => parseFiles(files), extra);
}

/**
 * Validates parsed files (parsed once, e.g. to learn whether the Host wants Docker labels)
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

export async function loadPolicyFromPaths(paths: readonly string[]): Promise<PolicyLoadResult> {
  const read = await readPolicyFiles(paths);
  if (read.issues.length > 0) return { ok: false, issues: read.issues, files: read.files.map((f) => f.path) };
  return parsePolicyTexts(read.files);
}

/** The texts of the policy files under `paths`, or why they cannot be read. */
export async function readPolicyFiles(paths: readonly string[]): Promise<{ files: PolicyFileText[]; issues: PolicyIssue[] }> {
  const files: PolicyFileText[] = [];
  const issues: PolicyIssue[] = [];
  for (const path of paths) {
    try {
      for (const file of await expand(path)) files.push({ path: file, text: await readFile(file, 'utf8') });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      issues.push({ file: path, line: 0, column: 0, path: '', message: `cannot read: ${err.code ?? err.message}`, hint: 'pass policy files or a directory of *.yaml files' });
    }
  }
  if (files.length === 0 && issues.length === 0) {
    issues.push({ file: paths.join(', '), line: 0, column: 0, path: '', message: 'no policy files found (*.yaml, *.yml, *.json)' });
  }
  return { files, issues };
}

async function expand(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path);
  return entries.filter((e) => POLICY_FILE.test(e) && !NOT_POLICY.has(e)).sort().map((e) => join(path, e));
}
