// Where each container and group ended up, for the reconciler, metrics and `inspect`. Pure.

import type { HostPolicy } from '../policy/model';
import type { TcHandle } from '../tc/handle';
import { makeHandle } from '../tc/handle';
import type { Direction, NetnsLocator } from '../tc/model';
import { guaranteeOf, type ContainerNode, type GroupNode, type ShapeTree } from '../shape/model';
import type { CompiledClassRef, CompiledContainer, CompiledGroup } from './model';

export function describe(host: HostPolicy, p: ContainerNode, classid: TcHandle): CompiledContainer {
  const classes = describeClasses(classRef(host, p, classid, 'download'), classRef(host, p, classid, 'upload'));
  const match = p.policy.match;
  const cgroup = match.kind === 'cgroup' ? match.path : undefined;
  const workload = p.policy.workload;
  const group = p.parent?.id;
  // Two literals rather than a conditional spread of `workload` (see shapeTree).
  if (workload) return { name: p.policy.name, matchKind: workload.source, classes, source: p.policy.source, netns: p.netns, address: p.address, address6: p.address6, hostDev: p.hostDev, containerDev: p.containerDev, cgroup, workload, group };
  return { name: p.policy.name, matchKind: match.kind, classes, source: p.policy.source, netns: p.netns, address: p.address, address6: p.address6, hostDev: p.hostDev, containerDev: p.containerDev, cgroup, group };
}

/**
 * The classes record with only the directions that have a class, as literals: a record
 * filled by a computed key per direction, a for-of over the directions and a location
 * object per direction made describing 10,000 containers allocate 4 MB, now 2.5 MB.
 */
function describeClasses(download: CompiledClassRef | undefined, upload: CompiledClassRef | undefined): Partial<Record<Direction, CompiledClassRef>> {
  if (download && upload) return { download, upload };
  if (download) return { download };
  if (upload) return { upload };
  return {};
}

function classRef(host: HostPolicy, p: ContainerNode, classid: TcHandle, dir: Direction): CompiledClassRef | undefined {
  let netns: NetnsLocator;
  let dev: string;
  if (host.mode === 'per-device') {
    if (!p.netns || !p.hostDev || !p.containerDev) return undefined;
    netns = dir === 'download' ? host.netns : p.netns;
    dev = dir === 'download' ? p.hostDev : p.containerDev;
  } else {
    netns = host.netns;
    dev = dir === 'download' ? host.bridge : host.ifb;
  }
  const b = p.policy.bandwidth[dir];
  return { netns, dev, classid, guarantee: guaranteeOf(p, dir), ceiling: b.ceiling, priority: b.priority };
}

/**
 * The groups in force, with their classes on the bridge and the IFB (shared mode) or
 * none (per-device mode: no device carries a group; the reconciler lends within it).
 */
export function describeGroups(tree: ShapeTree, classids: readonly TcHandle[]): CompiledGroup[] {
  const host = tree.host;
  if (tree.groups.length === 0) return [];
  const members = membersOf(tree);
  return tree.groups.map((g, i): CompiledGroup => {
    const ref = (dir: Direction): CompiledClassRef => {
      const r = dir === 'download' ? g.download : g.upload;
      return { netns: host.netns, dev: dir === 'download' ? host.bridge : host.ifb, classid: classids[i]!, guarantee: r.guarantee, ceiling: r.ceiling, priority: r.priority };
    };
    const classes = host.mode === 'shared' ? { download: ref('download'), upload: ref('upload') } : {};
    const rates = (r: typeof g.download) => ({ guarantee: r.guarantee, ceiling: r.ceiling, priority: r.priority });
    return { name: g.id, parent: g.parent?.id, level: g.level, bandwidth: { download: rates(g.download), upload: rates(g.upload) }, classes, qdisc: makeHandle(g.slot, 0), members: members[i]!, source: g.policy.source };
  });
}

/**
 * Each group's members' names, in tree.groups order: its subgroups, then its containers,
 * each in tree order. Indexed loops: this runs once per compile over every container,
 * unoptimised, where for-of makes an iterator result per container.
 */
function membersOf(tree: ShapeTree): string[][] {
  const { groups, containers } = tree;
  const indexOf = new Map<GroupNode, number>(groups.map((g, i) => [g, i]));
  const members = groups.map((): string[] => []);
  for (let i = 0; i < groups.length; i++) {
    const parent = groups[i]!.parent;
    if (parent) members[indexOf.get(parent)!]!.push(groups[i]!.id);
  }
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    if (c.parent) members[indexOf.get(c.parent)!]!.push(c.policy.name);
  }
  return members;
}
