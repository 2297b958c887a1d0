// Links in a plan: veth pairs (one kernel object with two ends), their peers, loopbacks.
// Pure; shared by the general diff and the fresh-machine path.

import type { KernelObject, LinkObject, NetnsLocator } from '../tc/model';
import { changedLinkFields } from './compare';
import type { Operation } from '../tc/operation';

/** A veth end: what a peer is looked up from. */
export type VethObject = LinkObject & { readonly spec: { readonly kind: 'veth'; readonly peerName: string; readonly peerNetns: NetnsLocator } };

/** The desired link at the other end of a veth, if any. */
export type PeerLookup = (veth: VethObject) => KernelObject | undefined;

/**
 * Links by name, then namespace (the last of a repeated one wins, as in a Map by
 * objectKey). Name first: most names are one link's (a host-side veth), whose entry is
 * the link itself, and only names many namespaces share (lo, eth0) get a map by
 * namespace; namespace first would make a Map per container namespace.
 */
export class LinkIndex {
  private readonly byName = new Map<string, LinkObject | Map<string, LinkObject>>();

  set(l: LinkObject): void {
    const entry = this.byName.get(l.name);
    if (entry === undefined || (!(entry instanceof Map) && entry.netns === l.netns)) this.byName.set(l.name, l);
    else if (entry instanceof Map) entry.set(l.netns, l);
    else this.byName.set(l.name, new Map<string, LinkObject>().set(entry.netns, entry).set(l.netns, l));
  }

  get(netns: string, name: string): LinkObject | undefined {
    const entry = this.byName.get(name);
    if (entry === undefined || entry instanceof Map) return entry?.get(netns);
    return entry.netns === netns ? entry : undefined;
  }
}

/** Whether `a` is a veth whose other end is `b`. */
export function isPeerOf(a: LinkObject, b: LinkObject): boolean {
  return a.spec.kind === 'veth' && b.spec.kind === 'veth' && a.spec.peerName === b.name && a.spec.peerNetns === b.netns;
}

/** A veth pair is one kernel object: create or delete it once, from its first end. */
export function dedupeVethPairs(objects: readonly KernelObject[]): KernelObject[] {
  const keptVeths = new LinkIndex();
  return objects.filter((o) => !isSecondVethEnd(o, keptVeths));
}

/** Whether `o` is the other end of a veth already kept (if not and it is a veth, it is kept now). */
function isSecondVethEnd(o: KernelObject, keptVeths: LinkIndex): boolean {
  return keptEndOf(o, keptVeths) !== undefined;
}

/** The kept end of the veth whose other end `o` is; undefined if none (and `o`, a veth, is kept now). */
export function keptEndOf(o: KernelObject, keptVeths: LinkIndex): LinkObject | undefined {
  if (o.type !== 'link' || o.spec.kind !== 'veth') return undefined;
  const peer = keptVeths.get(o.spec.peerNetns, o.spec.peerName);
  if (peer && isPeerOf(o, peer)) return peer;
  keptVeths.set(o);
  return undefined;
}

/** The fields of a change that brings a link up: one array shared by all of them (a fresh machine has one per container). */
const UP: readonly string[] = ['up'];

/**
 * The executor creates a veth's other end down (the kernel refuses to open a veth whose
 * peer does not exist yet, which is the created end while the request runs), with the
 * created end's MTU and GSO size and no master; a change right after makes it as desired.
 */
export function peerUpChange(o: KernelObject, peerOf: PeerLookup): Operation | undefined {
  if (o.type !== 'link' || o.spec.kind !== 'veth') return undefined;
  const peer = peerOf(o as VethObject);
  if (peer?.type !== 'link') return undefined;
  // What the kernel made, as `before`: the change's fields are then what really differs.
  const asMade: LinkObject = { type: 'link', netns: peer.netns, name: peer.name, up: false, mtu: o.mtu, gsoMaxSize: o.gsoMaxSize, spec: peer.spec };
  const fields = changedLinkFields(peer, asMade);
  return fields.length === 0 ? undefined : { op: 'change', object: peer, before: asMade, fields };
}

const ISOLATED: readonly string[] = ['isolated'];

/**
 * The change that isolates a bridge port the plan creates, or enslaves in `peerUp` (its
 * veth's other end made as desired): a request of its own after the one that gives the
 * port its master, since the kernel takes no port attributes with a new device or a new
 * master (messages.ts, LinkChange.isolated).
 */
export function isolateChange(created: KernelObject, peerUp: Operation | undefined): Operation | undefined {
  const port = peerUp?.op === 'change' && peerUp.fields.includes('master') ? peerUp.object : created;
  if (port.type !== 'link' || port.isolated !== true || port.master === undefined) return undefined;
  return { op: 'change', object: port, before: { ...port, isolated: false }, fields: ISOLATED };
}

/** Every namespace's lo: Sluice shapes none and creates none, but wants it up. */
export const isLoopback = (o: KernelObject): o is LinkObject => o.type === 'link' && o.spec.kind === 'external' && o.name === 'lo';

/**
 * A namespace the plan creates comes with lo up (the executor's createNetns); one it
 * does not create, never observed, is taken to have lo down as the kernel makes it. A
 * change only where the loopback is desired otherwise: none for Sluice's namespaces.
 */
export function loopbackChange(lo: LinkObject, createdByPlan: boolean): Operation | undefined {
  if (lo.up === createdByPlan) return undefined;
  const before: LinkObject = { type: 'link', netns: lo.netns, name: lo.name, up: createdByPlan, spec: lo.spec };
  return { op: 'change', object: lo, before, fields: UP };
}
