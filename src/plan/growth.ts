// The plan of a change that only adds and changes (a pod's ADD beside 100 others), found
// without the general diff's string-keyed indexes of both states. Pure.

import { objectKey } from '../tc/identity';
import { stateLists, stateSize, type KernelObject, type KernelState, type LinkObject } from '../tc/model';
import type { Operation, Plan } from '../tc/operation';
import { compare, creatable, deletable, raisedOutOfDebt } from './compare';
import { Matches, ObservedIndex } from './converged';
import { dedupeVethPairs, isLoopback, LinkIndex, loopbackChange } from './links';
import { QdiscNesting } from './order';
import { RankedOperations } from './ranked';

/**
 * diff(desired, applied) when that plan deletes nothing; undefined whenever it might
 * (an applied object not desired, one replaced or raised out of token debt) or desired
 * holds one identity twice: the general diff then decides. serve diffs the whole node's
 * desired state against the last applied one on every ADD, and indexing both by key
 * strings was most of that diff (1.5-2 ms of an 8 ms answer beside 100 pods). Objects
 * are matched by identity as isConverged matches them (tc/identity.ts, no strings), and
 * the operations are put in order as the general path does; a property test holds the
 * two equal (test/plan/growth.test.ts).
 */
export function growthPlan(desired: KernelState, applied: KernelState): Plan | undefined {
  // The general path's fresh-machine plan has an order of its own.
  if (stateSize(applied) === 0) return undefined;
  const index = appliedIndex(applied);
  const found = matchDesired(desired, index);
  if (found === undefined || found.matchedDeletable !== index.deletableCount()) return undefined;
  // New objects are few (one pod's): their keys are made to find one desired twice.
  if (new Set(found.creates.map(objectKey)).size !== found.creates.length) return undefined;
  return ordered(desired, found);
}

/** The indexes of applied states, each built once: see appliedIndex. */
const indexes = new WeakMap<KernelState, ObservedIndex>();

/**
 * The index of an applied state's objects by identity, built on the first call for that
 * state and kept as long as the state is alive. serve plans change after change against
 * one base, and building the index was ~75 ms of each at 10,000 containers in 100
 * groups; the states are immutable values, so their index never goes stale. The Applier
 * calls it for the next base after a change is answered, off the next one's path.
 */
export function appliedIndex(applied: KernelState): ObservedIndex {
  const kept = indexes.get(applied);
  if (kept !== undefined) return kept;
  const index = new ObservedIndex();
  const lists = stateLists(applied);
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l]!;
    for (let i = 0; i < list.length; i++) index.add(list[i]!);
  }
  indexes.set(applied, index);
  return index;
}

interface Matched {
  /** Desired objects with no applied object of their identity, in the desired state's order. */
  readonly creates: KernelObject[];
  readonly changes: Operation[];
  /** Desired loopbacks in namespaces not applied. */
  readonly loopbacks: LinkObject[];
  readonly matchedDeletable: number;
}

/** Each desired object against the applied one of its identity; undefined at the first sign of a delete or a repeated identity. */
function matchDesired(desired: KernelState, index: ObservedIndex): Matched | undefined {
  const creates: KernelObject[] = [];
  const changes: Operation[] = [];
  const loopbacks: LinkObject[] = [];
  const matches = new Matches(index);
  let matchedDeletable = 0;
  const lists = stateLists(desired);
  for (let l = 0; l < lists.length; l++) {
    const list = lists[l]!;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      const at = index.find(d);
      if (at === undefined) creates.push(d);
      else {
        if (!matches.once(at)) return undefined;
        const o = index.objectAt(at);
        const verdict = compare(d, o);
        if (verdict.kind === 'replace') return undefined;
        if (verdict.kind === 'change') {
          if (d.type === 'class' && o.type === 'class' && raisedOutOfDebt(d.spec, o.spec)) return undefined;
          changes.push({ op: 'change', object: d, before: o, fields: verdict.fields });
        }
        if (deletable(o)) matchedDeletable++;
      }
      if (isLoopback(d) && !index.hasNamespace(d.netns)) loopbacks.push(d);
    }
  }
  return { creates, changes, loopbacks, matchedDeletable };
}

/** The general diff's forward part, for a plan with nothing removed. */
function ordered(desired: KernelState, found: Matched): Plan {
  const forward = new RankedOperations(QdiscNesting.of(desired.qdiscs));
  for (const o of dedupeVethPairs(found.creates.filter(creatable))) forward.add({ op: 'create', object: o });
  for (const op of found.changes) forward.add(op);
  const namespaces = new Set(desired.namespaces.map((n) => n.name));
  for (const lo of found.loopbacks) {
    const change = loopbackChange(lo, namespaces.has(lo.netns));
    if (change) forward.add(change);
  }
  // A created veth's other end is created too (a pod's pair): looked up among the few
  // created links first, and among all desired links (30,000 at 10,000 containers: ~12 ms
  // a change to index) only if it is not there.
  const created = new LinkIndex();
  for (let i = 0; i < found.creates.length; i++) {
    const o = found.creates[i]!;
    if (o.type === 'link') created.set(o);
  }
  let all: LinkIndex | undefined;
  return forward.ordered((veth) => created.get(veth.spec.peerNetns, veth.spec.peerName) ?? (all ??= linkIndexOf(desired)).get(veth.spec.peerNetns, veth.spec.peerName));
}

function linkIndexOf(state: KernelState): LinkIndex {
  const links = new LinkIndex();
  // Not for-of: unoptimised, as this runs once per change, it made an iterator result per
  // link (1.1 MB at 10,000 containers), as the loops above did per object (6.8 MB).
  state.links.forEach((l) => links.set(l));
  return links;
}
