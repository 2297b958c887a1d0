// The tc objects of a whole policy, from its placements: the shared trees on the bridge
// and the IFB, or a tree per container device. Pure.

import type { HostPolicy, Policy } from '../policy/model';
import type { Direction, HtbClassSpec } from '../tc/model';
import { makeHandle, type TcHandle } from '../tc/handle';
import type { BitsPerSec } from '../units/units';
import type { KernelFeatures } from '../tc/features';
import { address6Table, addressTable, addSharedTree, emptyAddress6Table, cgroupClassifier, deviceTree, emptyTc, ingressRedirect, leafQdiscSpec, type TcObjects, type TreeClasses } from './trees';
import { HtbClassSpecs, quantumBase, type ClassRates } from './htb';
import { guaranteeOf, type Placement } from './placement';


function ratesOf(p: Placement, dir: Direction): ClassRates {
  const b = p.policy.bandwidth[dir];
  return { rate: guaranteeOf(p, dir), ceil: b.ceiling, prio: b.priority, burst: b.burst };
}

/**
 * Each container's class spec in the `dir` tree, equal ones shared. Named reads, not
 * p.policy.bandwidth[dir]: V8 optimised the keyed reads for 'download' and threw that
 * code away when the upload tree asked for 'upload'.
 */
function treeSpecs(placements: readonly Placement[], dir: Direction, base: BitsPerSec): HtbClassSpec[] {
  const specs = new HtbClassSpecs(base);
  const out = new Array<HtbClassSpec>(placements.length);
  if (dir === 'download') {
    for (let i = 0; i < placements.length; i++) {
      const p = placements[i]!;
      const b = p.policy.bandwidth.download;
      out[i] = specs.ofRates(p.downloadGuarantee, b.ceiling, b.priority, b.burst);
    }
  } else {
    for (let i = 0; i < placements.length; i++) {
      const p = placements[i]!;
      const b = p.policy.bandwidth.upload;
      out[i] = specs.ofRates(p.uploadGuarantee, b.ceiling, b.priority, b.burst);
    }
  }
  return out;
}

/** The containers' classes of one tree, their quanta scaled among them (quantumBase). */
function treeClasses(placements: readonly Placement[], dir: Direction, capacity: BitsPerSec, classids: readonly TcHandle[], leaves: readonly TcHandle[]): TreeClasses {
  const base = quantumBase(placements.map((p) => guaranteeOf(p, dir)), capacity);
  return { classids, leaves, specs: treeSpecs(placements, dir, base), quantumBase: base };
}

/** A cgroup's packets come from the host, whatever address it was given: classified by classid. */
const isClassifiedByAddress = (p: Placement): p is Placement & { readonly address: string } => p.address !== undefined && p.policy.match.kind !== 'cgroup';

export function sharedTrees(policy: Policy, placements: readonly Placement[], features: KernelFeatures): TcObjects {
  const host = policy.host;
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const bridge = { netns: host.netns, dev: host.bridge };
  const ifb = { netns: host.netns, dev: host.ifb };
  const classids = new Array<TcHandle>(placements.length);
  const leaves = new Array<TcHandle>(placements.length);
  const byAddress: (Placement & { readonly address: string })[] = [];
  const byAddress6: (Placement & { readonly address6: string })[] = [];
  let cgroups = false;
  // One pass for what both trees need of every container.
  for (let i = 0; i < placements.length; i++) {
    const p = placements[i]!;
    classids[i] = p.classid;
    leaves[i] = makeHandle(p.minor, 0);
    if (isClassifiedByAddress(p)) byAddress.push(p);
    else if (p.policy.match.kind === 'cgroup') cgroups = true;
    if (p.address6 !== undefined && p.policy.match.kind !== 'cgroup') byAddress6.push(p as Placement & { readonly address6: string });
  }
  const addresses = addressTable(byAddress);
  const addresses6 = byAddress6.length === 0 ? emptyAddress6Table : address6Table(byAddress6);
  // Built before the trees though listed between them: its handles (ffff:, 800::800) are
  // above 2^31, not small integers to V8. Built after the 20,000 address filters, whose
  // handle and parent fields had held only small integers, it made V8 widen those fields
  // and deprecate the filters' hidden class; each filter was then migrated on its first
  // read (1–2 µs each, ~40 ms of the first diff at 10,000 containers).
  const redirect = ingressRedirect(bridge, host.ifb);
  // Both trees and the redirect go straight into one set of lists, in the order
  // download tree, redirect (and cgroup classifier), upload tree.
  const tc = emptyTc();
  addSharedTree(tc, bridge, 'download', host.capacity.download, host.subnet, treeClasses(placements, 'download', host.capacity.download, classids, leaves), addresses, addresses6, leafSpec);
  appendAll(tc.qdiscs, redirect.qdiscs);
  appendAll(tc.filters, redirect.filters);
  // Host-network workloads send into the bridge (towards containers) or through the IFB;
  // the classifier runs first on both, and lets everything without a classid through.
  if (features.clsBpf && cgroups) tc.filters.push(cgroupClassifier(bridge), cgroupClassifier(ifb));
  addSharedTree(tc, ifb, 'upload', host.capacity.upload, host.subnet, treeClasses(placements, 'upload', host.capacity.upload, classids, leaves), addresses, addresses6, leafSpec);
  return tc;
}

function appendAll<T>(out: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) out.push(items[i]!);
}

export function perDeviceTrees(host: HostPolicy, placements: readonly Placement[], features: KernelFeatures): TcObjects {
  const leafSpec = leafQdiscSpec(features.leafQdiscs);
  const trees = placements.flatMap((p) => {
    if (!p.netns || !p.hostDev || !p.containerDev) return [];
    return [
      deviceTree({ netns: host.netns, dev: p.hostDev }, p.minor, ratesOf(p, 'download'), host.capacity.download, leafSpec),
      deviceTree({ netns: p.netns, dev: p.containerDev }, p.minor, ratesOf(p, 'upload'), host.capacity.upload, leafSpec),
    ];
  });
  return { qdiscs: trees.flatMap((t) => t.qdiscs), classes: trees.flatMap((t) => t.classes), filters: trees.flatMap((t) => t.filters) };
}
