// A depth check before the YAML parser runs. The parser composes nested collections
// recursively, so a file nested a few thousand levels deep (20,000 `[`, or as many
// ever-deeper block lines) ends in "Maximum call stack size exceeded", which tells the
// operator nothing. A policy is at most ~8 levels deep; this scan finds the first place
// deeper than the limit in one pass over the text, without recursion. It is a bound,
// not a parser: quotes, comments and flow brackets are followed well enough that a
// legitimate policy is never within reach of the limit.

export const MAX_POLICY_DEPTH = 64;

export interface DepthExcess {
  readonly line: number;
  readonly column: number;
  readonly depth: number;
}

/** The first place the text nests deeper than `limit`, or undefined. Lines and columns from 1. */
export function excessiveNesting(text: string, limit: number = MAX_POLICY_DEPTH): DepthExcess | undefined {
  const indents: number[] = [];
  let flow = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const indent = line.length - line.trimStart().length;
    const body = line.slice(indent);
    if (body === '' || body.startsWith('#')) continue;
    if (flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
    }
    let depth = flow + indents.length;
    let quote: string | undefined;
    for (let c = indent; c < line.length; c++) {
      const ch = line[c]!;
      if (quote) {
        if (ch === quote) quote = undefined;
        continue;
      }
      const atTokenStart = c === indent || ' \t[{,:'.includes(line[c - 1]!);
      if ((ch === '"' || ch === "'") && atTokenStart) quote = ch;
      else if (ch === '#' && atTokenStart) break;
      else if (ch === '[' || ch === '{' || (ch === '-' && atTokenStart && (line[c + 1] === ' ' || c + 1 === line.length))) {
        if (ch !== '-') flow++;
        depth++;
      } else if (ch === ']' || ch === '}') {
        flow = Math.max(0, flow - 1);
        depth--;
      }
      if (depth > limit) return { line: i + 1, column: c + 1, depth };
    }
    if (depth > limit) return { line: i + 1, column: indent + 1, depth };
  }
  return undefined;
}
