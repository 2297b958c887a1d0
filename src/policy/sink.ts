// Where validation findings go, and how they cite a document: shared by the checks of
// one document kind and those that span documents (validate.ts, groups.ts). Pure.

import type { LocatedDocument, Position } from './documents';
import type { PolicyIssue } from './issues';
import type { SourceRef } from './model';

/** Collects issues against documents; `at` names the document and field. */
export class IssueSink {
  readonly issues: PolicyIssue[] = [];

  add(doc: LocatedDocument, path: readonly PropertyKey[], message: string, hint?: string): void {
    const pos: Position = doc.locate(path);
    this.issues.push({ file: doc.file, line: pos.line, column: pos.column, path: path.join('.'), message, ...(hint ? { hint } : {}) });
  }
}

export const where = (doc: LocatedDocument, path: readonly PropertyKey[] = ['metadata', 'name']): string => {
  const p = doc.locate(path);
  return p.line > 0 ? `${doc.file}:${p.line}:${p.column}` : doc.file;
};

export const sourceOf = (doc: LocatedDocument): SourceRef => {
  const p = doc.locate(['metadata', 'name']);
  return { file: doc.file, line: p.line, column: p.column };
};
