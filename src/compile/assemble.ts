// The tc objects of a shaping tree: the shared trees on the bridge and the IFB (flat, or
// nested where the policy has groups: nested.ts), or a tree per container device. Pure.

import type { Direction } from '../tc/model';
import { makeHandle, type TcHandle } from '../tc/handle';
import type { BitsPerSec } from '../units/units';
import type { KernelFeatures } from '../tc/features';
import { guaranteeOf, type ContainerNode, type ShapeTree } from '../shape/model';
import type { HostPolicy } from '../policy/model';
import { portHooks, switchedPort } from './ports';
import { address6Table, addressTable, addSharedTree, classSpecs, emptyAddress6Table, cgroupClassifier, deviceTree, flatCounts, ingressRedirect, leafQdiscSpec, ROOT_MAJOR, sharedNumbers, TcLists, type TcCounts, type TcObjects, type TcList, type TcSink, type TreeClasses } from './trees';
import { HtbClassSpecs, quantumBase, type ClassRates } from './htb';
import { addGroupedTree, groupedCounts, groupedLayout } from './nested';
import { addSetTree, describePeerSets, setLayout } from './destinations';
import type { CompiledPeerSet } from './model';

function ratesOf(p: ContainerNode, dir: Direction): ClassRates {
  const b = p.policy.bandwidth[dir];
  return { rate: guaranteeOf(p, dir), ceil: b.ceiling, prio: b.priority, burst: b.burst };
}

/** The containers' classes of one tree, their quanta scaled among them (quantumBase). */
function treeClasses(nodes: readonly ContainerNode[], dir: Direction, capacity: BitsPerSec, classids: readonly TcHandle[], leaves: readonly TcHandle[]): TreeClasses {
  const base = quantumBase(nodes.map((p) => guaranteeOf(p, dir)), capacity);
  return { classids, leaves, specs: classSpecs(nodes, dir, [new HtbClassSpecs(base)]), quantumBase: base };
}

/** A cgroup's packets come from the host, whatever address it was given: classified by classid. */
const isClassifiedByAddress = (p: ContainerNode): boolean => p.address4 >= 0 && p.policy.match.kind !== 'cgroup';

/** The tc objects of a tree, and each node's class id in them (the same in both directions). */
export interface RenderedTrees {
  readonly tc: TcObjects;
  /** In tree.containers order. */
  readonly containerClass: readonly TcHandle[];
  /** In tree.groups order. */
  readonly groupClass: readonly TcHandle[];
  /** A policy with peer sets: where each set's and each (container, set)'s classes are. */
  readonly peerSets?: readonly CompiledPeerSet[];
}

export function sharedTrees(tree: ShapeTree, features: KernelFeatures): RenderedTrees {
  const host = tree.host;
  const nodes = tree.containers;
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const bridge = { netns: host.netns, dev: host.bridge };
  const ifb = { netns: host.netns, dev: host.ifb };
  let cgroups = false;
  for (let i = 0; i < nodes.length; i++) if (nodes[i]!.policy.match.kind === 'cgroup') cgroups = true;
  // Built before the trees though listed between them: its handles (ffff:, 800::800) are
  // above 2^31, not small integers to V8. Built after the 20,000 address filters, whose
  // handle and parent fields had held only small integers, it made V8 widen those fields
  // and deprecate the filters' hidden class; each filter was then migrated on its first
  // read (1–2 µs each, ~40 ms of the first diff at 10,000 containers).
  const redirect = ingressRedirect(bridge, host.ifb);
  const hooks = portHooks(host, switchedPorts(host, nodes));
  // Host-network workloads send into the bridge (towards containers) or through the IFB;
  // the classifier runs first on both, and lets everything without a classid through.
  const classifiers = features.clsBpf && cgroups ? [cgroupClassifier(bridge), cgroupClassifier(ifb)] : [];
  const { addTree, perTree, containerClass, groupClass, peerSets } = host.peers !== undefined ? setTrees(tree, leafSpec) : tree.groups.length > 0 ? groupedTrees(tree, leafSpec) : flatTrees(nodes, leafSpec, host.subnet);
  // Both trees and the redirect go straight into one set of lists, in the order
  // download tree, redirect (and cgroup classifier), upload tree, each list made at its size.
  const between = { qdiscs: redirect.qdiscs.length + hooks.qdiscs.length, classes: 0, filters: redirect.filters.length + hooks.filters.length + classifiers.length };
  const lists = new TcLists(perTree === undefined ? undefined : bothTrees(perTree, between));
  addTree(lists, bridge, 'download', host.capacity.download);
  appendAll(lists.qdiscs, redirect.qdiscs);
  appendAll(lists.filters, redirect.filters);
  appendAll(lists.qdiscs, hooks.qdiscs);
  appendAll(lists.filters, hooks.filters);
  appendAll(lists.filters, classifiers);
  addTree(lists, ifb, 'upload', host.capacity.upload);
  const tc = lists.filled();
  return peerSets ? { tc, containerClass, groupClass, peerSets } : { tc, containerClass, groupClass };
}

/** Two trees of `perTree` objects each, and the objects between them. */
const bothTrees = (perTree: TcCounts, between: TcCounts): TcCounts => ({
  qdiscs: 2 * perTree.qdiscs + between.qdiscs,
  classes: 2 * perTree.classes + between.classes,
  filters: 2 * perTree.filters + between.filters,
});

/** The container ports whose switched traffic goes through the IFB first (ports.ts). */
function switchedPorts(host: HostPolicy, nodes: readonly ContainerNode[]): string[] {
  const ports: string[] = [];
  // Indexed: unoptimised, for-of made an iterator result per container (0.4 MB).
  for (let i = 0; i < nodes.length; i++) {
    const port = switchedPort(host, nodes[i]!);
    if (port !== undefined) ports.push(port);
  }
  return ports;
}

interface TreeMaker {
  readonly addTree: (t: TcSink, d: { readonly netns: string; readonly dev: string }, direction: Direction, capacity: BitsPerSec) => void;
  /** What one tree adds (both add as many), when known beforehand: the lists are made at their size. */
  readonly perTree?: TcCounts;
  readonly containerClass: readonly TcHandle[];
  readonly groupClass: readonly TcHandle[];
  readonly peerSets?: readonly CompiledPeerSet[];
}

/** Every container a class of the root: what both trees share, made once. */
function flatTrees(nodes: readonly ContainerNode[], leafSpec: ReturnType<typeof leafQdiscSpec>, subnet: string): TreeMaker {
  const classids = new Array<TcHandle>(nodes.length);
  const leaves = sharedNumbers<TcHandle>(nodes.length);
  const ips: number[] = [];
  const ipClassids: number[] = [];
  const ips6: string[] = [];
  const ip6Classids: number[] = [];
  // One pass for what both trees need of every container.
  for (let i = 0; i < nodes.length; i++) {
    const p = nodes[i]!;
    const classid = makeHandle(ROOT_MAJOR, p.slot);
    classids[i] = classid;
    leaves[i] = makeHandle(p.slot, 0);
    if (isClassifiedByAddress(p)) {
      ips.push(p.address4);
      ipClassids.push(classid);
    }
    if (p.address6 !== undefined && p.policy.match.kind !== 'cgroup') {
      ips6.push(p.address6);
      ip6Classids.push(classid);
    }
  }
  const addresses = addressTable(ips, ipClassids);
  const addresses6 = ips6.length === 0 ? emptyAddress6Table : address6Table(ips6, ip6Classids);
  return {
    addTree: (t, d, direction, capacity) => addSharedTree(t, d, direction, capacity, subnet, treeClasses(nodes, direction, capacity, classids, leaves), addresses, addresses6, leafSpec),
    perTree: flatCounts(nodes.length, addresses, addresses6),
    containerClass: classids,
    groupClass: [],
  };
}

function groupedTrees(tree: ShapeTree, leafSpec: ReturnType<typeof leafQdiscSpec>): TreeMaker {
  const layout = groupedLayout(tree);
  return { addTree: (t, d, direction, capacity) => addGroupedTree(t, d, direction, capacity, tree.host.subnet, tree, layout, leafSpec), perTree: groupedCounts(layout), containerClass: layout.containerClass, groupClass: layout.groupClass };
}

/** Peer sets first, then containers in each (validation refuses groups with sets). */
function setTrees(tree: ShapeTree, leafSpec: ReturnType<typeof leafQdiscSpec>): TreeMaker {
  const layout = setLayout(tree);
  return { addTree: (t, d, direction, capacity) => addSetTree(t, d, direction, capacity, tree.host.subnet, tree, layout, leafSpec), containerClass: layout.containerClass, groupClass: [], peerSets: describePeerSets(tree, layout) };
}

function appendAll<T>(out: TcList<T>, items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) out.push(items[i]!);
}

/** Per-device mode: a tree on each container's own devices (groups lend through the reconciler, src/reconcile/borrowing.ts). */
export function perDeviceTrees(tree: ShapeTree, features: KernelFeatures): RenderedTrees {
  const host = tree.host;
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const trees = tree.containers.flatMap((p) => {
    if (!p.netns || !p.hostDev || !p.containerDev) return [];
    return [
      deviceTree({ netns: host.netns, dev: p.hostDev }, p.slot, ratesOf(p, 'download'), host.capacity.download, leafSpec),
      deviceTree({ netns: p.netns, dev: p.containerDev }, p.slot, ratesOf(p, 'upload'), host.capacity.upload, leafSpec),
    ];
  });
  const tc = { qdiscs: trees.flatMap((t) => t.qdiscs), classes: trees.flatMap((t) => t.classes), filters: trees.flatMap((t) => t.filters) };
  return { tc, containerClass: tree.containers.map((p) => makeHandle(ROOT_MAJOR, p.slot)), groupClass: [] };
}
