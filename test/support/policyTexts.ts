// Policy texts as a test writes them (f0.yaml, f1.yaml, … in order), parsed by Sluice's loader.
import { parsePolicyTexts, type PolicyIssue } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';

const asFiles = (texts: readonly string[]) => texts.map((text, i) => ({ path: `f${i}.yaml`, text }));

/** The policy the texts make; throws with the issues when they do not make one. */
export function load(...texts: string[]): Policy {
  const r = parsePolicyTexts(asFiles(texts));
  if (!r.ok) throw new Error(JSON.stringify(r.issues, null, 1));
  return r.policy;
}

/** The issues the texts raise; throws when they make a policy. */
export function issuesOf(...texts: string[]): PolicyIssue[] {
  const r = parsePolicyTexts(asFiles(texts));
  if (r.ok) throw new Error('expected issues');
  return [...r.issues];
}

/** Each issue as "f<i>:<line> <path>: <message>". */
export const brief = (issues: readonly PolicyIssue[]): string[] => issues.map((i) => `${i.file.replace('.yaml', '')}:${i.line} ${i.path}: ${i.message}`);
