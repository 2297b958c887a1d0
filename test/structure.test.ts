// The folders of src/ import each other without cycles: every arrow between folders runs
// one way, so a folder can be read (and changed) knowing only those below it. Every
// import counts, `import type` too: a cycle of types is still two folders that cannot be
// understood apart.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = normalize(join(__dirname, '..', 'src'));

/**
 * Imports another change owns while this one lands: each is a file and the module it
 * imports, so nothing else can hide behind it. Remove an entry when that file changes its
 * import; the test says when one is stale. None now.
 */
const KNOWN_EXCEPTIONS: ReadonlySet<string> = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The first folder under src/ of a path ("(src)" for a file directly in src/). */
const folderOf = (path: string): string => {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0]! : '(src)';
};

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s+['"](\.[^'"]+)['"]/g;

/** Folder → folders it imports, with the file-level imports behind each arrow. */
function folderGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), m[1]!));
      const to = folderOf(target.endsWith('.ts') ? target : `${target}.ts`);
      const edge = `${relative(SRC, file)} -> ${relative(SRC, target)}`;
      if (from === to || KNOWN_EXCEPTIONS.has(edge)) continue;
      let arrows = graph.get(from);
      if (!arrows) graph.set(from, (arrows = new Map()));
      arrows.set(to, [...(arrows.get(to) ?? []), edge]);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) out.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('structure', () => {
  it('no import cycle between the folders of src/', () => {
    const graph = folderGraph();
    const found = cycles(graph).map((component) => {
      const arrows = component.flatMap((a) => component.flatMap((b) => (graph.get(a)?.get(b) ?? []).slice(0, 2)));
      return `${component.join(' ⇄ ')}:\n    ${arrows.join('\n    ')}`;
    });
    expect(found, `folder cycles:\n  ${found.join('\n  ')}`).toEqual([]);
  });

  it('each known exception is still an import somewhere (drop it once it is gone)', () => {
    const all = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) all.add(`${relative(SRC, file)} -> ${relative(SRC, normalize(join(dirname(file), m[1]!)))}`);
    }
    for (const edge of KNOWN_EXCEPTIONS) expect(all.has(edge), edge).toBe(true);
  });
});
