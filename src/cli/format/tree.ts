// A snapshot's rows as the shaping tree: groups with their members indented under them,
// each level by rate (highest first). Without groups, the containers by rate.
import { displayName, type ContainerTraffic, type GroupTraffic, type TrafficSnapshot } from '../../traffic/snapshot';
import type { Direction } from '../../tc/model';

export type TreeLine =
  | { readonly kind: 'group'; readonly depth: number; readonly name: string; readonly row: GroupTraffic }
  | { readonly kind: 'container'; readonly depth: number; readonly name: string; readonly row: ContainerTraffic };

export function treeLines(snap: TrafficSnapshot, direction: Direction): TreeLine[] {
  const known = new Set(snap.groups.map((g) => g.group));
  const under = new Map<string | undefined, TreeLine[]>();
  const put = (parent: string | undefined, line: TreeLine): void => {
    const key = parent !== undefined && known.has(parent) ? parent : undefined;
    const list = under.get(key);
    if (list) list.push(line);
    else under.set(key, [line]);
  };
  for (const g of snap.groups) if (g.direction === direction) put(g.parent, { kind: 'group', depth: 0, name: g.group, row: g });
  for (const r of snap.rows) if (r.direction === direction) put(r.group, { kind: 'container', depth: 0, name: displayName(r), row: r });
  const out: TreeLine[] = [];
  const walk = (parent: string | undefined, depth: number): void => {
    for (const line of [...(under.get(parent) ?? [])].sort((a, b) => b.row.rate - a.row.rate)) {
      out.push({ ...line, depth });
      if (line.kind === 'group') walk(line.name, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

/** "  web" for a container one level down, "shop/" for a group. */
export const indented = (line: TreeLine): string => `${'  '.repeat(line.depth)}${line.name}${line.kind === 'group' ? '/' : ''}`;
