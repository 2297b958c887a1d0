// Files → typed documents, each able to say where any of its fields is. YAML and JSON
// both go through the `yaml` parser (JSON is YAML), which keeps node positions.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { excessiveNesting, MAX_POLICY_DEPTH } from './depth';
import { formatPath, type PolicyIssue } from './issues';
import { DOCUMENT_KINDS, policyDocument, WORKLOAD_SOURCE_SECTIONS, type PolicyDocument } from './schema';

export interface PolicyFileText {
  readonly path: string;
  readonly text: string;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A schema-valid document plus a way to find any of its fields in the file. */
export interface LocatedDocument {
  readonly file: string;
  readonly value: PolicyDocument;
  locate(path: readonly PropertyKey[]): Position;
}

export interface ParsedFiles {
  readonly documents: readonly LocatedDocument[];
  readonly issues: readonly PolicyIssue[];
}

export function parseFiles(files: readonly PolicyFileText[]): ParsedFiles {
  const documents: LocatedDocument[] = [];
  const issues: PolicyIssue[] = [];
  for (const file of files) {
    const parsed = parseFile(file);
    documents.push(...parsed.documents);
    issues.push(...parsed.issues);
  }
  return { documents, issues };
}

function parseFile(file: PolicyFileText): ParsedFiles {
  const lines = new LineCounter();
  const documents: LocatedDocument[] = [];
  const issues: PolicyIssue[] = [];
  const tooDeep = excessiveNesting(file.text);
  if (tooDeep) {
    const message = `nested more than ${MAX_POLICY_DEPTH} levels deep here; a policy needs about 10, so the file is malformed (or built to exhaust the parser) and was not parsed`;
    return { documents, issues: [{ file: file.path, line: tooDeep.line, column: tooDeep.column, path: '', message, hint: 'check the brackets and indentation around this line' }] };
  }
  for (const doc of parseAllDocuments(file.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, logLevel: 'error' })) {
    const locate = (path: readonly PropertyKey[]): Position => positionOf(doc, path, lines);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        issues.push({ file: file.path, line: pos.line, column: pos.col, path: '', message: `YAML: ${firstLine(e.message)}` });
      }
      continue;
    }
    const raw = toPlain(doc);
    if ('error' in raw) {
      const pos = locate([]);
      issues.push({ file: file.path, ...pos, path: '', message: `YAML: ${raw.error}` });
      continue;
    }
    if (raw.value === null || raw.value === undefined) continue;
    const kindIssue = checkKind(raw.value);
    if (kindIssue) {
      issues.push({ file: file.path, ...locate(['kind']), path: 'kind', ...kindIssue });
      continue;
    }
    const result = policyDocument.safeParse(raw.value);
    if (result.success) documents.push({ file: file.path, value: result.data, locate });
    else issues.push(...result.error.issues.map((i) => schemaIssue(file.path, i, locate)));
  }
  return { documents, issues };
}

/** Aliases can still fail here (unresolved, or too many: the "billion laughs" guard). */
function toPlain(doc: Document): { value: unknown } | { error: string } {
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) as unknown };
  } catch (e) {
    return { error: firstLine((e as Error).message) };
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** A value as a finding quotes it: a string as written; a list or map (an alias can make it circular) by what it is. */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '(a list)';
  return typeof v === 'object' && v !== null ? '(a map)' : String(v);
}

function checkKind(raw: unknown): { message: string; hint: string } | undefined {
  const kind = typeof raw === 'object' && raw !== null && 'kind' in raw ? (raw as { kind: unknown }).kind : undefined;
  if ((DOCUMENT_KINDS as readonly unknown[]).includes(kind)) return undefined;
  return {
    message: kind === undefined ? 'document has no kind' : `unknown kind ${describeValue(kind)}`,
    hint: `kind is one of ${DOCUMENT_KINDS.join(', ')}`,
  };
}

function schemaIssue(file: string, issue: z.core.$ZodIssue, locate: (p: readonly PropertyKey[]) => Position): PolicyIssue {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const path = [...issue.path, key];
    return {
      file,
      ...locate(path),
      path: formatPath(path),
      message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
      hint: 'check the spelling; policies/schema.json lists every field',
    };
  }
  if (issue.code === 'invalid_union' && issue.path.at(-1) === 'match') {
    return { file, ...locate(issue.path), path: formatPath(issue.path), message: `match needs exactly one of: ${['managed', 'netns', 'pid', 'ip', 'cgroup', ...WORKLOAD_SOURCE_SECTIONS].join(', ')}`, hint: 'e.g. match: { managed: sl-web }' };
  }
  return { file, ...locate(issue.path), path: formatPath(issue.path), message: issue.message };
}

/** Position of the deepest existing node on `path` (the key itself for map entries). */
function positionOf(doc: Document, path: readonly PropertyKey[], lines: LineCounter): Position {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    const next = childOf(node, segment);
    if (!next) break;
    node = next.value;
    offset = next.offset;
  }
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function childOf(node: unknown, segment: PropertyKey): { value: unknown; offset: number } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment);
    const key = pair?.key as Node | undefined;
    return pair && key?.range ? { value: pair.value, offset: key.range[0] } : undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment] as Node | undefined;
    return item?.range ? { value: item, offset: item.range[0] } : undefined;
  }
  return undefined;
}
