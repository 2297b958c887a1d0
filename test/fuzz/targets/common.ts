// What the targets share: policy text kept in memory as the files source, the oracle for
// validation findings and for compiling what validated, the CLI's documented exit statuses,
// and running the built programs as processes.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from '../../../src/cli/output';
import { compilePolicy } from '../../../src/compile';
import { SluiceError } from '../../../src/errors';
import { diff } from '../../../src/plan/diff';
import { parseFiles, type PolicyFileText } from '../../../src/policy/documents';
import { formatPolicyIssue, type PolicyIssue } from '../../../src/policy/load';
import type { Policy } from '../../../src/policy/model';
import { FilesSource, type FilesSnapshot } from '../../../src/sources/files/source';
import { emptyKernelState } from '../../../src/tc/model';
import type { CaseResult } from '../harness';
import { isRecord } from '../mutate';

export const REPO = resolve(__dirname, '..', '..', '..');
export const CORPUS = join(REPO, 'test', 'fuzz', 'corpus');

/** Policy files held in memory: the loader's root source without a disk. */
export class MemoryFiles extends FilesSource {
  constructor(private readonly texts: readonly PolicyFileText[]) {
    super(texts.map((t) => t.path));
  }

  override async load(): Promise<FilesSnapshot> {
    const parsed = parseFiles(this.texts);
    const files = this.texts.map((t) => t.path);
    return { documents: parsed.documents, issues: parsed.issues, workloads: [], origin: files.join(', '), files, unreadable: false };
  }
}

/** Field names the policy schema knows (policies/schema.json), for structure-aware mutations. */
export function schemaKeys(): string[] {
  const keys = new Set<string>(['apiVersion', 'kind', 'metadata', 'spec']);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) {
      if (isRecord(v['properties'])) for (const k of Object.keys(v['properties'])) keys.add(k);
      Object.values(v).forEach(walk);
    }
  };
  walk(JSON.parse(readFileSync(join(REPO, 'policies', 'schema.json'), 'utf8')));
  return [...keys];
}

/** A bug's trace, as validation reports it rather than throwing. */
const INTERNAL = /internal error/i;

/**
 * Every finding must say where: a file it was given, with a line and column, or a source
 * (a container's labels, a pod) that `locatedElsewhere` accepts, with the field or label.
 */
export function judgeIssues(issues: readonly PolicyIssue[], files: readonly string[], locatedElsewhere: (issue: PolicyIssue) => boolean = () => false): CaseResult | undefined {
  for (const issue of issues) {
    const text = formatPolicyIssue(issue);
    if (INTERNAL.test(issue.message)) return { failure: 'crash', detail: text };
    if (issue.message.trim() === '') return { failure: 'unlocated', detail: `a finding without a message: ${JSON.stringify(issue)}` };
    const inFile = files.includes(issue.file) && issue.line >= 1 && issue.column >= 1;
    if (!inFile && !locatedElsewhere(issue)) return { failure: 'unlocated', detail: text };
  }
  return undefined;
}

/** A policy that validated must compile and diff against an empty machine; a refusal must be typed. */
export function judgeCompile(policy: Policy): CaseResult {
  try {
    const compiled = compilePolicy(policy, { observed: emptyKernelState() });
    diff(compiled.state, emptyKernelState());
    return { outcome: 'valid, compiled' };
  } catch (e) {
    if (e instanceof SluiceError) return { outcome: `valid, refused at compile: ${e.code}` };
    return { failure: 'crash', detail: `compile: ${(e as Error).stack ?? String(e)}` };
  }
}

/** What an exception escaping Sluice's code says about it: typed and located, or a crash. */
export function judgeThrown(e: unknown, where: string): CaseResult {
  if (e instanceof SluiceError) return { outcome: `refused: ${e.code}` };
  return { failure: 'crash', detail: `${where}: ${(e as Error).stack ?? String(e)}` };
}

export const DOCUMENTED_EXITS: readonly number[] = Object.values(EXIT);

export const SLUICE_BIN = join(REPO, 'bin', 'sluice.js');
export const CNI_BIN = join(REPO, 'bin', 'sluice-cni.js');

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: string;
}

export function runNode(script: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): ProcessResult {
  const r = spawnSync(process.execPath, [script, ...args], { env: options.env ?? process.env, input: options.input ?? '', timeout: options.timeoutMs, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error.message } : {}) };
}

/** The CLI's exit status is one the README documents, and no internal error was printed. */
export function judgeCliExit(what: string, r: ProcessResult): CaseResult | undefined {
  if (r.error) return { failure: 'hang', detail: `${what}: ${r.error}` };
  if (r.code === null || !DOCUMENTED_EXITS.includes(r.code)) return { failure: 'exit-status', detail: `${what} exited ${r.code}: ${r.stderr.slice(0, 2000)}` };
  if (INTERNAL.test(r.stderr) || INTERNAL.test(r.stdout)) return { failure: 'crash', detail: `${what}: ${(r.stderr || r.stdout).slice(0, 2000)}` };
  if (/\(node:\d+\) \w*Warning/.test(r.stderr)) return { failure: 'unlocated', detail: `${what} printed a process warning: ${r.stderr.slice(0, 500)}` };
  return undefined;
}
