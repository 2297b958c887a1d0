// Putting a plan's forward part (creates and changes) in execution order. Pure; shared
// by the general diff and the fresh-machine path.

import type { KernelObject, NetnsLocator } from '../tc/model';
import { isolateChange, peerUpChange, type PeerLookup } from './links';
import type { Operation } from '../tc/operation';
import { createRank, type QdiscNesting } from './order';

/**
 * The forward part of a plan (creates and changes) in execution order, built in one pass:
 * stable by create rank; each new veth followed by the change that brings its peer up and
 * the one that isolates its bridge port;
 * then, after the namespaces and link creations, each namespace's operations together
 * (namespaces in order of first appearance), so the executor sends one batch per
 * namespace instead of one per operation when thousands of containers each need an
 * address, a route and their links up; operations in no namespace last.
 */
export class RankedOperations {
  /** Operations by create rank (small integers, see order.ts); each rank holds one object type. */
  private readonly byRank: Operation[][] = [];

  /** `nesting`: the desired state's nested HTB trees, if any (createRank). */
  constructor(private readonly nesting?: QdiscNesting) {}

  add(op: Operation): void {
    this.addAt(createRank(op.object, this.nesting), op);
  }

  /** add(op) when the caller knows the rank (createRank(op.object, nesting)). */
  addAt(rank: number, op: Operation): void {
    const ops = this.byRank[rank];
    if (ops) ops.push(op);
    else this.byRank[rank] = [op];
  }

  /** addAt(rank, op) for each of `ops` in order; the list itself is kept when the rank has none yet (it is the caller's no more). */
  addAllAt(rank: number, ops: Operation[]): void {
    const had = this.byRank[rank];
    if (had === undefined) this.byRank[rank] = ops;
    else for (let i = 0; i < ops.length; i++) had.push(ops[i]!);
  }

  /**
   * All operations in execution order. The result is allocated once at its final size
   * and the per-namespace groups are put in place by a counting sort: growing a fresh
   * machine's plan push by push, plus an array per namespace, allocated several times
   * the plan's own size in copies.
   */
  ordered(peerOf: PeerLookup): Operation[] {
    const ranks = this.byRank.filter((ops) => ops !== undefined);
    // Each rank's object type, read once here: reading it from the rank's first object,
    // the loops below met a new object shape at each rank, and V8 threw splitFirsts' code
    // (compiled on the stack while the links' loop ran) away at the next rank, twice per
    // plan ("wrong map"; 3 compiles, 23 ms of TurboFan's time, now 2 and ~7 ms).
    const types = ranks.map((ops) => ops[0]!.object.type);
    const peerUps = peerUpsOf(ranks, types, peerOf);
    // Link creations (two peerUps entries each) go first with the namespaces, the cgroups
    // last, everything else (peer changes included) by namespace in between.
    let total = peerUps.count;
    let grouped = peerUps.count - peerUps.changes.length / 2;
    let last = 0;
    for (let r = 0; r < ranks.length; r++) {
      const ops = ranks[r]!;
      const type = types[r]!;
      total += ops.length;
      if (type === 'cgroup-classid') last += ops.length;
      else if (type !== 'namespace') grouped += ops.length;
    }
    const out = new Array<Operation>(total);
    // What is placed by namespace goes to out[firsts…] in rank order, and is moved into
    // place there: a second list of the plan's size (1 MB at 10,000 containers, a large
    // object on fresh pages) held it in between.
    const firsts = total - grouped - last;
    splitFirsts(ranks, types, peerUps.changes, out, firsts);
    placeByNamespace(out, firsts, grouped);
    let at = total - last;
    for (let r = 0; r < ranks.length; r++) {
      const ops = ranks[r]!;
      if (types[r] === 'cgroup-classid') for (let i = 0; i < ops.length; i++) out[at++] = ops[i]!;
    }
    return out;
  }
}

/**
 * For each link creation, in rank order, the change that brings its peer up and the one
 * that isolates its bridge port (each if any, so two entries per creation),
 * and how many there are. One type per rank: the type is read once per rank.
 */
function peerUpsOf(ranks: readonly (readonly Operation[])[], types: readonly KernelObject['type'][], peerOf: PeerLookup): { changes: (Operation | undefined)[]; count: number } {
  // Indexed loops here and in the functions below, not for-of: this code runs once
  // per plan, mostly before V8 optimises it, and unoptimised for-of allocates an
  // iterator result per element.
  let creations = 0;
  for (let r = 0; r < ranks.length; r++) {
    const ops = ranks[r]!;
    if (types[r] === 'link') for (let i = 0; i < ops.length; i++) if (ops[i]!.op === 'create') creations++;
  }
  // Made at its final size: 20,000 entries pushed grew it through large copies.
  const changes = new Array<Operation | undefined>(2 * creations);
  let at = 0;
  let count = 0;
  for (let r = 0; r < ranks.length; r++) {
    const ops = ranks[r]!;
    if (types[r] !== 'link') continue;
    for (let i = 0; i < ops.length; i++) {
      if (ops[i]!.op !== 'create') continue;
      const change = peerUpChange(ops[i]!.object, peerOf);
      const isolate = isolateChange(ops[i]!.object, change);
      changes[at++] = change;
      changes[at++] = isolate;
      if (change) count++;
      if (isolate) count++;
    }
  }
  return { changes, count };
}

/**
 * Puts the namespaces and link creations at the start of `out`, in rank order, and the
 * rest but the cgroups from out[rest] on, each peer change right after its veth's place.
 */
function splitFirsts(ranks: readonly (readonly Operation[])[], types: readonly KernelObject['type'][], peerUps: readonly (Operation | undefined)[], out: Operation[], rest: number): void {
  let at = 0;
  let g = rest;
  let created = 0;
  for (let r = 0; r < ranks.length; r++) {
    const ops = ranks[r]!;
    const type = types[r]!;
    if (type === 'namespace') for (let i = 0; i < ops.length; i++) out[at++] = ops[i]!;
    else if (type === 'link') {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        if (op.op !== 'create') out[g++] = op;
        else {
          out[at++] = op;
          const peerUp = peerUps[created++];
          if (peerUp) out[g++] = peerUp;
          const isolate = peerUps[created++];
          if (isolate) out[g++] = isolate;
        }
      }
    } else if (type !== 'cgroup-classid') for (let i = 0; i < ops.length; i++) out[g++] = ops[i]!;
  }
}

/**
 * Reorders out[from…from + n) so that each namespace's operations are together,
 * namespaces in order of first appearance, each group in the order given (a stable
 * counting sort, whose result is put in place by following its cycles).
 */
function placeByNamespace(out: Operation[], from: number, n: number): void {
  // The namespace read below meets the object types of a plan one after another (links,
  // addresses, routes, qdiscs, classes, filters). V8 optimises the loop for the types
  // seen so far and throws that code away at each new one; reading a sample from across
  // the list first shows it every type before the loop gets hot.
  for (let i = 0; i < n; i += NAMESPACE_SAMPLE_STRIDE) netnsOf(out[from + i]!);
  const groupOf = new Map<NetnsLocator, number>();
  // Each operation's group, then its place.
  const places = new Uint32Array(n);
  // starts[g + 1] counts group g, then becomes where group g + 1 begins.
  const starts = new Uint32Array(n + 1);
  // Runs of one namespace are long (a device's tc objects): look the group up once per run.
  let runNetns: NetnsLocator | undefined;
  let runGroup = 0;
  for (let i = 0; i < n; i++) {
    const netns = netnsOf(out[from + i]!);
    if (netns !== runNetns) {
      let group = groupOf.get(netns);
      if (group === undefined) {
        group = groupOf.size;
        groupOf.set(netns, group);
      }
      runNetns = netns;
      runGroup = group;
    }
    places[i] = runGroup;
    starts[runGroup + 1]!++;
  }
  for (let group = 1; group <= groupOf.size; group++) starts[group]! += starts[group - 1]!;
  for (let i = 0; i < n; i++) places[i] = starts[places[i]!]!++;
  moveInPlace(out, from, places);
}

/**
 * Moves out[from + i] to out[from + places[i]] for every i, following the permutation's
 * cycles: each swap puts one operation where it goes. A function of its own: V8 compiles
 * placeByNamespace's first loop on the stack, and a later loop that had not run yet
 * threw that code away.
 */
function moveInPlace(out: Operation[], from: number, places: Uint32Array): void {
  for (let i = 0; i < places.length; i++) {
    while (places[i] !== i) {
      const j = places[i]!;
      const op = out[from + j]!;
      out[from + j] = out[from + i]!;
      out[from + i] = op;
      places[i] = places[j]!;
      places[j] = j;
    }
  }
}

/** Every object placed by namespace has one. */
const netnsOf = (op: Operation): NetnsLocator => (op.object as { readonly netns: NetnsLocator }).netns;

/** Far enough apart to be a few dozen reads in a plan of 100,000; a type with fewer operations is cheap anyway. */
const NAMESPACE_SAMPLE_STRIDE = 997;


/** Stable sort on a rank computed once per element. */
export function sortByRank<T>(items: readonly T[], rank: (item: T) => number): T[] {
  const buckets = new Map<number, T[]>();
  for (const item of items) {
    const r = rank(item);
    const bucket = buckets.get(r);
    if (bucket) bucket.push(item);
    else buckets.set(r, [item]);
  }
  return [...buckets.keys()].sort((a, b) => a - b).flatMap((r) => buckets.get(r)!);
}
