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

/**
 * Host-side device for a container: "sl-<name>" when it fits and is free, otherwise
 * "sl-" + a hash (the kernel limits names to 15 bytes).
 */
export function assignDeviceNames(names: readonly string[], reserved: ReadonlySet<string>): Map<string, string> {
  return ownDeviceNames(names, reserved) ?? deviceNamesInOrder(names, reserved);
}

/**
 * "sl-<name>" for every name, when each fits, is not reserved and is one container's:
 * then no name is hashed, nothing collides and the order does not matter, so this is
 * what going through the names in order gives, without sorting them and keeping a set
 * of the names taken (10,000 of each per compile). Undefined otherwise.
 */
function ownDeviceNames(names: readonly string[], reserved: ReadonlySet<string>): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const dev = `sl-${name}`;
    if (dev.length > IFNAMSIZ || reserved.has(dev) || out.has(name)) return undefined;
    out.set(name, dev);
  }
  return out;
}

/** assignDeviceNames going through the names in order, hashing those whose own name does not fit or is taken. */
function deviceNamesInOrder(names: readonly string[], reserved: ReadonlySet<string>): Map<string, string> {
  const taken = new Set(reserved);
  const out = new Map<string, string>();
  const sorted = [...names].sort();
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    let dev = `sl-${name}`;
    if (dev.length > IFNAMSIZ || taken.has(dev)) dev = `sl-${stableHash(name).toString(16).padStart(8, '0')}`;
    for (let i = 1; taken.has(dev); i++) dev = `sl-${(stableHash(name) + i).toString(16).slice(-8)}`;
    taken.add(dev);
    out.set(name, dev);
  }
  return out;
}

/**
 * Slot per node (`names`: containers; `groups`: groups): the one it already has in the
 * kernel if any, else a hash of its name probed linearly; assigned in name order so
 * results are deterministic.
 */
export function assignSlots(names: readonly string[], existing: ReadonlyMap<string, number>, groups: readonly string[] = []): Map<string, number> {
  const out = new Map<string, number>();
  const taken = new SlotsTaken();
  const sorted = [...names].sort();
  const sortedGroups = [...groups].sort();
  if (existing.size > 0) {
    keepExisting(sortedGroups, existing, LAST_GROUP_SLOT, out, taken);
    keepExisting(sorted, existing, LAST_SLOT, out, taken);
  }
  probeNew(sortedGroups, LAST_GROUP_SLOT, out, taken);
  probeNew(sorted, LAST_SLOT, out, taken);
  return out;
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

/** Keeps the slot each name already has in the kernel, if it is within range and free. */
function keepExisting(sorted: readonly string[], existing: ReadonlyMap<string, number>, last: number, out: Map<string, number>, taken: SlotsTaken): void {
  // Indexed loops: this runs once per compile over every container, mostly before V8
  // optimises it, where for-of allocates an iterator result per name.
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    const had = existing.get(name);
    if (had !== undefined && isSlot(had) && had <= last && !taken.has(had)) {
      out.set(name, had);
      taken.add(had);
    }
  }
}

/** A slot for each name without one: a hash of the name, probed linearly over FIRST_SLOT…last. */
function probeNew(sorted: readonly string[], last: number, out: Map<string, number>, taken: SlotsTaken): void {
  const span = last - FIRST_SLOT + 1;
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    if (out.has(name)) continue;
    // `| 0`: above 2^31 slotHash's unsigned result is a heap number to V8, and so were the
    // remainder and the slot; one such slot made every node's slot field a boxed double,
    // an object more per node for the garbage collector to copy.
    let slot = FIRST_SLOT + ((slotHash(name) % span) | 0);
    while (taken.has(slot)) slot = slot === last ? FIRST_SLOT : slot + 1;
    out.set(name, slot);
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
