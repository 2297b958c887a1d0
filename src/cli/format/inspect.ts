// The kernel objects `inspect` shows for a container or a group, picked from an
// observation by the identities the compile gave them.
import type { CompiledClassRef, CompiledContainer, CompiledGroup } from '../../compile';
import { majorOf } from '../../tc/handle';
import { classKey, treeKey } from '../../tc/identity';
import type { KernelObject, ObservedState } from '../../tc/model';

/** Kernel objects behind one container: its devices, addresses, classes (`inSets`: its classes in the peer sets), leaf queues, filters. */
export function containerObjects(c: CompiledContainer, observed: ObservedState, inSets: readonly CompiledClassRef[] = []): KernelObject[] {
  const classids = new Set([...Object.values(c.classes), ...inSets].map((r) => classKey(r!.netns, r!.dev, r!.classid)));
  const devices = new Set([c.hostDev, c.containerDev].filter((d): d is string => d !== undefined));
  return [
    ...observed.namespaces.filter((n) => n.name === c.netns),
    ...observed.links.filter((l) => devices.has(l.name) && (l.netns === c.netns || l.name === c.hostDev)),
    ...observed.addresses.filter((a) => a.netns === c.netns),
    ...observed.routes.filter((r) => r.netns === c.netns),
    ...observed.classes.filter((k) => classids.has(classKey(k.netns, k.dev, k.classid))),
    ...observed.qdiscs.filter((q) => classids.has(classKey(q.netns, q.dev, q.parent))),
    ...observed.filters.filter((f) => f.spec.kind === 'u32' && f.spec.classid !== undefined && classids.has(classKey(f.netns, f.dev, f.spec.classid))),
    ...observed.cgroups.filter((g) => g.cgroup === c.cgroup),
  ];
}

/**
 * Kernel objects behind one group: its class in its parent's HTB and the filters that
 * lead there, its own HTB (qdisc, root class, filters) and its members' classes in it.
 */
export function groupObjects(g: CompiledGroup, observed: ObservedState): KernelObject[] {
  const refs = Object.values(g.classes);
  const own = new Set(refs.map((r) => classKey(r!.netns, r!.dev, r!.classid)));
  const trees = new Set(refs.map((r) => treeKey(r!.netns, r!.dev, majorOf(g.qdisc))));
  const inTree = (o: { netns: string; dev: string }, major: number): boolean => trees.has(treeKey(o.netns, o.dev, major));
  return [
    ...observed.classes.filter((k) => own.has(classKey(k.netns, k.dev, k.classid)) || inTree(k, majorOf(k.classid))),
    ...observed.qdiscs.filter((q) => own.has(classKey(q.netns, q.dev, q.parent))),
    ...observed.filters.filter((f) => inTree(f, majorOf(f.parent)) || (f.spec.kind === 'u32' && f.spec.classid !== undefined && own.has(classKey(f.netns, f.dev, f.spec.classid)))),
  ];
}
