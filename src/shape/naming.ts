// Stable names and numbers: device names, slots and addresses must not move when the
// policy changes elsewhere, or every apply would rebuild unrelated containers.

import * as crypto from 'node:crypto';
import { intToIp, ipToInt, isHostAddress, maskOf, parseSubnet } from '../net/ipv4';

const IFNAMSIZ = 15;

/**
 * Slots: a small number per node of the tree (container or group), unique on a host,
 * kept across applies and restarts. A renderer numbers what it makes for a node by its
 * slot (HTB: the node's class minor, its leaf qdisc's major); below the first slot it
 * has numbers of its own (HTB: 1 the root class, 2 the default class).
 */
const FIRST_SLOT = 0x10;
const LAST_SLOT = 0xfff0;

export const isSlot = (n: number): boolean => n >= FIRST_SLOT && n <= LAST_SLOT;

/**
 * The first 32 bits of sha256(text), for the devices of containers whose own name does
 * not fit: device names are not read back from the kernel, so this hash must never
 * change. The one-shot crypto.hash (Node ≥ 20.12) gives the digest without a Hash object
 * per call; read from the hex digest, as a Buffer per call made it 1.6× as slow.
 */
export function stableHash(text: string): number {
  const hex = typeof crypto.hash === 'function' ? crypto.hash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
  return parseInt(hex.slice(0, 8), 16);
}

/**
 * Where a name starts probing for a slot or an address: FNV-1a (32 bits) over the
 * UTF-16 code units of `text`, then MurmurHash3's finaliser, without which names like
 * c0…c9999 bunch up in the low bits. Minors and addresses are read back from the kernel
 * and kept, so this only places new containers, and needs to spread names, not resist
 * anyone. With sha256 (a call into C++, a digest and a hex string per name) placing
 * 10,000 new names cold took 17–20 ms; with this, 8–10 ms.
 */
export function slotHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** A container's host-side device is "sl-<name>" unless that does not fit or is taken. */
const DEV_PREFIX = 'sl-';

export const ownDevice = (name: string): string => DEV_PREFIX + name;

/**
 * Whether "sl-<name>" fits (the kernel limits names to 15 bytes) and is not `reserved`,
 * asked without making the string: every container's is asked, once per compile.
 */
export function ownDeviceFree(name: string, reserved: readonly string[]): boolean {
  const length = DEV_PREFIX.length + name.length;
  if (length > IFNAMSIZ) return false;
  for (let i = 0; i < reserved.length; i++) {
    const r = reserved[i]!;
    if (r.length === length && r.startsWith(DEV_PREFIX) && r.endsWith(name)) return false;
  }
  return true;
}

/**
 * The host-side devices that are not the container's own "sl-<name>", by container
 * name: "sl-" + a hash for a name that does not fit or whose own is taken (reserved, or
 * another's hash), going through the names in order. When every own name is free (the
 * usual case; see ownDeviceFree) there are none whatever the order, and the caller need
 * not list the names. Names are unique (validate.ts); a name listed twice would share
 * one device either way. Only the exceptions are kept: a Map of every name (the own
 * ones, 10,000) was 1.1 MB per compile.
 */
export function hashedDeviceNames(names: readonly string[], reserved: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set(reserved);
  const sorted = [...names].sort();
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    let dev = ownDevice(name);
    if (dev.length > IFNAMSIZ || taken.has(dev)) dev = `sl-${stableHash(name).toString(16).padStart(8, '0')}`;
    for (let i = 1; taken.has(dev); i++) dev = `sl-${(stableHash(name) + i).toString(16).slice(-8)}`;
    taken.add(dev);
    if (dev !== ownDevice(name)) out.set(name, dev);
  }
  return out;
}

/** A container's host-side device, given the exceptions hashedDeviceNames found. */
export const hostDevice = (hashed: ReadonlyMap<string, string>, name: string): string => hashed.get(name) ?? ownDevice(name);

/**
 * Slot per node (`names`: containers; `groups`: groups), by name: assignSlotsInOrder's,
 * the first of a name listed twice.
 */
export function assignSlots(names: readonly string[], existing: ReadonlyMap<string, number>, groups: readonly string[] = []): Map<string, number> {
  const slots = assignSlotsInOrder(names, existing, groups);
  const out = new Map<string, number>();
  groups.forEach((g, i) => {
    if (!out.has(g)) out.set(g, slots.groups[i]!);
  });
  names.forEach((name, i) => {
    if (!out.has(name)) out.set(name, slots.names[i]!);
  });
  return out;
}

/** Slots aligned with the names and the groups they were asked for. */
export interface SlotsInOrder {
  readonly names: Int32Array;
  readonly groups: Int32Array;
}

/**
 * Slot per node (`names`: containers; `groups`: groups), each at its name's index: the
 * one it already has in the kernel if any, else a hash of its name probed linearly;
 * assigned in name order so results are deterministic. The order is of indices, not a
 * sorted copy of the names: a Map from name to slot for 10,000 containers grew through
 * 0.9 MB per compile; sorting indices by name costs about what sorting the names did.
 */
export function assignSlotsInOrder(names: readonly string[], existing: ReadonlyMap<string, number>, groups: readonly string[] = []): SlotsInOrder {
  const out = { names: new Int32Array(names.length), groups: new Int32Array(groups.length) };
  const taken = new SlotsTaken();
  const order = nameOrder(names);
  const groupOrder = nameOrder(groups);
  if (existing.size > 0) {
    keepExisting(groups, groupOrder, existing, LAST_GROUP_SLOT, out.groups, taken);
    keepExisting(names, order, existing, LAST_SLOT, out.names, taken);
  }
  probeNew(groups, groupOrder, LAST_GROUP_SLOT, out.groups, taken);
  probeNew(names, order, LAST_SLOT, out.names, taken);
  return out;
}

/** The indices of `names` in the order of the names (as [...names].sort() orders them: by UTF-16 code units; stable). */
function nameOrder(names: readonly string[]): number[] {
  const order = Array.from({ length: names.length }, (_, i) => i);
  return order.sort((a, b) => {
    const x = names[a]!;
    const y = names[b]!;
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * Groups' slots stay below 0x8000: a group's slot is the major of its HTB, so its
 * members' class ids and its filters' parent stay below 2^31, small integers to V8. As
 * doubles, in objects whose fields had held small integers, they made V8 widen the
 * field and migrate every filter and class (bench/compile: +40% at 100 groups).
 */
const LAST_GROUP_SLOT = 0x7fff;

/**
 * The slots taken, a byte per slot (64 KiB, of which only the pages of slots taken are
 * ever written): a Set of 10,000 numbers grew through backing stores of 0.7 MB in all,
 * each on memory never touched before (a page fault per 4 KiB, ~13 µs on this VM).
 */
class SlotsTaken {
  private readonly bytes = new Uint8Array(LAST_SLOT + 1);

  has(slot: number): boolean {
    return this.bytes[slot] === 1;
  }

  add(slot: number): void {
    this.bytes[slot] = 1;
  }
}

/** Keeps the slot each name already has in the kernel, if it is within range and free (0 in `out`: none yet). */
function keepExisting(names: readonly string[], order: readonly number[], existing: ReadonlyMap<string, number>, last: number, out: Int32Array, taken: SlotsTaken): void {
  // Indexed loops: this runs once per compile over every container, mostly before V8
  // optimises it, where for-of allocates an iterator result per name.
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const had = existing.get(names[i]!);
    if (had !== undefined && isSlot(had) && had <= last && !taken.has(had)) {
      out[i] = had;
      taken.add(had);
    }
  }
}

/** A slot for each name without one: a hash of the name, probed linearly over FIRST_SLOT…last. */
function probeNew(names: readonly string[], order: readonly number[], last: number, out: Int32Array, taken: SlotsTaken): void {
  const span = last - FIRST_SLOT + 1;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (out[i] !== 0) continue;
    // `| 0`: above 2^31 slotHash's unsigned result is a heap number to V8, and so were the
    // remainder and the slot; one such slot made every node's slot field a boxed double,
    // an object more per node for the garbage collector to copy.
    let slot = FIRST_SLOT + ((slotHash(names[i]!) % span) | 0);
    while (taken.has(slot)) slot = slot === last ? FIRST_SLOT : slot + 1;
    out[i] = slot;
    taken.add(slot);
  }
}

/**
 * Addresses for containers that need one and did not name one: the address they
 * already have, else a hash of the name into the subnet, skipping taken ones.
 */
export function assignAddresses(
  subnetCidr: string,
  needing: readonly string[],
  fixed: ReadonlySet<string>,
  existing: ReadonlyMap<string, string>,
): Map<string, string> {
  const subnet = parseSubnet(subnetCidr);
  const size = (~maskOf(subnet.prefix) >>> 0) + 1;
  const taken = new Set(fixed);
  const out = new Map<string, string>();
  for (const name of [...needing].sort()) {
    const had = existing.get(name);
    if (had && !taken.has(had) && isHostAddress(subnet, had)) {
      out.set(name, had);
      taken.add(had);
    }
  }
  for (const name of [...needing].sort()) {
    if (out.has(name)) continue;
    let offset = slotHash(name) % size;
    for (let tries = 0; tries < size; tries++, offset = (offset + 1) % size) {
      const ip = intToIp(subnet.network + offset);
      if (isHostAddress(subnet, ip) && !taken.has(ip)) {
        out.set(name, ip);
        taken.add(ip);
        break;
      }
    }
  }
  return out;
}

export const lastOctet = (ip: string): number => ipToInt(ip) & 0xff;
