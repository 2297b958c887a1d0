// Reading policy files and directories (*.yaml, *.yml, *.json, sorted): the only place
// policy text comes off the disk. Parsing and validation (src/policy) stay pure.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyFileText } from '../../policy/documents';
import { parsePolicyTexts, type PolicyIssue, type PolicyLoadResult } from '../../policy/load';

const POLICY_FILE = /\.(ya?ml|json)$/;
/** The schema describes documents; it is not itself a policy. */
const NOT_POLICY = new Set(['schema.json']);

/** The files alone, validated (no workload source read): `validate` without --docker, `destroy`, tests. */
export async function loadPolicyFromPaths(paths: readonly string[]): Promise<PolicyLoadResult> {
  const read = await readPolicyFiles(paths);
  if (read.issues.length > 0) return { ok: false, issues: read.issues, files: read.files.map((f) => f.path) };
  return parsePolicyTexts(read.files);
}

/**
 * The texts of the policy files under `paths`, or why they cannot be read. Read in line,
 * not through the thread pool: serve reads them on every pod's ADD, and each of the
 * three calls per file was a turn of the event loop, in which the previous ADD's
 * leftovers ran first; a few small files take microseconds.
 */
export async function readPolicyFiles(paths: readonly string[]): Promise<{ files: PolicyFileText[]; issues: PolicyIssue[] }> {
  const files: PolicyFileText[] = [];
  const issues: PolicyIssue[] = [];
  for (const path of paths) {
    try {
      for (const file of expand(path)) files.push({ path: file, text: readFileSync(file, 'utf8') });
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

function expand(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const entries = readdirSync(path);
  return entries.filter((e) => POLICY_FILE.test(e) && !NOT_POLICY.has(e)).sort().map((e) => join(path, e));
}
