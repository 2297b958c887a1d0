// Random hierarchical policies for the groups kernel tests: a seeded generator (the same
// seed draws the same trees), each draw with its groups, containers, flows and which of
// them send, and the policy text made from the draw (its judge reads the draw itself:
// written.ts, writtenFromTreeDraw). Pure.
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { directionText, sandboxContainerText, sandboxHostText, seededRandom } from './randomPolicy';

export { seededRandom };

export interface DrawnGroup {
  readonly name: string;
  readonly parent: string | undefined;
  readonly guaranteeKbit: number;
  /** Undefined: its parent's (the link's). */
  readonly ceilingKbit: number | undefined;
  readonly priority: number;
}

export interface DrawnContainer {
  readonly name: string;
  readonly group: string | undefined;
  readonly guaranteeKbit: number;
  /** Undefined: its group's (the link's). */
  readonly ceilingKbit: number | undefined;
  readonly priority: number;
  readonly flows: number;
  readonly busy: boolean;
}

export interface TreeDraw {
  readonly index: number;
  readonly linkMbit: number;
  readonly groups: readonly DrawnGroup[];
  readonly containers: readonly DrawnContainer[];
}

const int = (r: () => number, min: number, max: number): number => min + Math.floor(r() * (max - min + 1));

/**
 * 2–4 groups under the link, some with a subgroup (depth 3: group → subgroup →
 * container), 1–2 containers in each group, sometimes one beside the groups; at most 8
 * containers. Guarantees: the top level adds up to 30–90% of the link, each group's
 * children to 60–100% of it, none below 2% of the link; about half the groups with a
 * ceiling below their parent's; priorities 0–7 at every level; 1–8 flows; at least one
 * container busy and one idle, and in some group one member busy beside an idle one.
 */
export function drawTree(r: () => number, index: number, linkMbit: number): TreeDraw {
  const link = linkMbit * 1000;
  const floor = 0.02 * link;
  const groups: DrawnGroup[] = [];
  const containers: DrawnContainer[] = [];
  const topGroups = int(r, 2, 4);
  const loose = containers.length < 8 && r() < 0.4 ? 1 : 0;
  const topShare = (0.3 + 0.6 * r()) * link;
  const topWeights = Array.from({ length: topGroups + loose }, () => 0.3 + r());
  const topTotal = topWeights.reduce((s, w) => s + w, 0);
  const ceilingBelow = (above: number, guarantee: number): number | undefined => (r() < 0.5 ? Math.floor(guarantee + (above - guarantee) * (0.3 + 0.5 * r())) : undefined);
  let n = 0;
  const addContainer = (group: string | undefined, guarantee: number, above: number): void => {
    containers.push({ name: `c${n++}`, group, guaranteeKbit: Math.max(floor, Math.floor(guarantee)), ceilingKbit: r() < 0.25 ? ceilingBelow(above, Math.max(floor, Math.floor(guarantee))) : undefined, priority: int(r, 0, 7), flows: int(r, 1, 8), busy: r() < 0.6 });
  };
  // Every other draw has a subgroup (depth 3: group → subgroup → container), the others may.
  let wantSub = index % 2 === 1;
  const fill = (name: string, guarantee: number, ceiling: number, depth: number): void => {
    const sub = depth < 2 && (wantSub || r() < 0.25) && containers.length < 6 ? 1 : 0;
    if (sub) wantSub = false;
    const members = Math.min(int(r, 1, 2), 8 - containers.length - sub);
    const parts = Array.from({ length: members + sub }, () => 0.3 + r());
    const total = parts.reduce((s, w) => s + w, 0);
    const handed = guarantee * (0.6 + 0.4 * r());
    parts.forEach((w, i) => {
      const share = Math.max(floor, (handed * w) / total);
      if (i < sub) {
        const child = `${name}s`;
        const g = Math.floor(share);
        const c = ceilingBelow(ceiling, g);
        groups.push({ name: child, parent: name, guaranteeKbit: g, ceilingKbit: c, priority: int(r, 0, 7) });
        fill(child, g, c ?? ceiling, depth + 1);
      } else addContainer(name, share, ceiling);
    });
  };
  for (let i = 0; i < topGroups; i++) {
    const name = `g${i}`;
    // Enough for its members' floors (and a subgroup's), whatever the weights.
    const g = Math.max(6 * floor, Math.floor((topShare * topWeights[i]!) / topTotal));
    const c = ceilingBelow(link, g);
    groups.push({ name, parent: undefined, guaranteeKbit: g, ceilingKbit: c, priority: int(r, 0, 7) });
    if (containers.length < 8) fill(name, g, c ?? link, 1);
  }
  if (loose && containers.length < 8) addContainer(undefined, (topShare * topWeights[topGroups]!) / topTotal, link);
  // At least one busy and one idle; a group with a busy member beside an idle one, where there is one.
  const busy = containers.map((c) => c.busy);
  if (!busy.some((b) => b)) busy[int(r, 0, busy.length - 1)] = true;
  if (busy.every((b) => b)) busy[int(r, 0, busy.length - 1)] = false;
  const out = containers.map((c, i) => ({ ...c, busy: busy[i]! }));
  return fitToLink({ index, linkMbit, groups, containers: out });
}

/** Guarantees rounded up to floors can overshoot their level: scale each level into what it has (as validation would demand). */
function fitToLink(d: TreeDraw): TreeDraw {
  const link = d.linkMbit * 1000;
  const groups = new Map(d.groups.map((g) => [g.name, { ...g }]));
  const containers = d.containers.map((c) => ({ ...c }));
  const levels = [undefined, ...d.groups.map((g) => g.name)];
  for (const level of levels) {
    const has = level === undefined ? 0.95 * link : groups.get(level)!.guaranteeKbit;
    const kids = [...[...groups.values()].filter((g) => g.parent === level), ...containers.filter((c) => c.group === level)];
    const total = kids.reduce((s, k) => s + k.guaranteeKbit, 0);
    if (total > has) for (const k of kids) k.guaranteeKbit = Math.floor((k.guaranteeKbit * has) / total);
  }
  // Ceilings never above the parent's, never below the guarantee.
  const ceilingOf = (g: string | undefined): number => (g === undefined ? link : (groups.get(g)!.ceilingKbit ?? ceilingOf(groups.get(g)!.parent)));
  for (const g of groups.values()) if (g.ceilingKbit !== undefined) g.ceilingKbit = Math.max(g.guaranteeKbit, Math.min(g.ceilingKbit, ceilingOf(g.parent)));
  for (const c of containers) if (c.ceilingKbit !== undefined) c.ceilingKbit = Math.max(c.guaranteeKbit, Math.min(c.ceilingKbit, ceilingOf(c.group)));
  return { ...d, groups: [...groups.values()], containers };
}

/** The draw as policy files would say it (`flatten`: the same containers with no groups, for the negative control). */
export function treePolicyText(draw: TreeDraw, prefix: string, flatten = false): string {
  const host = sandboxHostText(prefix, 'tree', draw.linkMbit);
  const groups = flatten
    ? []
    : draw.groups.map((g) => {
        const dir = directionText(g);
        return `---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: ${g.name} }
spec:
${g.parent ? `  parent: ${g.parent}\n` : ''}  download: ${dir}
  upload: ${dir}
`;
      });
  const containers = draw.containers.map((c, i) => sandboxContainerText(prefix, c, i, c.group && !flatten ? `  group: ${c.group}\n` : ''));
  return [host, ...groups, ...containers].join('');
}

export function parseTreeDraw(draw: TreeDraw, prefix: string, flatten = false): Policy {
  const r = parsePolicyTexts([{ path: `tree-${draw.index}.yaml`, text: treePolicyText(draw, prefix, flatten) }]);
  if (!r.ok) throw new Error(`${describeTree(draw)}: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.policy;
}

export function describeTree(d: TreeDraw): string {
  const g = d.groups.map((x) => `${x.name}${x.parent ? `<${x.parent}` : ''} g${(x.guaranteeKbit / 1000).toFixed(1)}${x.ceilingKbit !== undefined ? ` c${(x.ceilingKbit / 1000).toFixed(1)}` : ''} p${x.priority}`);
  const c = d.containers.map((x) => `${x.name}${x.group ? `<${x.group}` : ''} g${(x.guaranteeKbit / 1000).toFixed(1)}${x.ceilingKbit !== undefined ? ` c${(x.ceilingKbit / 1000).toFixed(1)}` : ''} p${x.priority} ×${x.flows}${x.busy ? ' busy' : ' idle'}`);
  return `#${d.index} ${d.linkMbit} mbit/s: groups ${g.join(', ')}; containers ${c.join(', ')}`;
}
