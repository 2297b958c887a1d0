import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignSlotsInOrder, hashedDeviceNames, hostDevice, ownDeviceFree, slotHash, stableHash } from '../../src/shape/naming';

describe('stableHash', () => {
  it('is the first 32 bits of sha256, read big-endian (the names of devices depend on it)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(stableHash(text)).toBe(createHash('sha256').update(text).digest().readUInt32BE(0));
      }),
    );
    expect(stableHash('c0')).toBe(createHash('sha256').update('c0').digest().readUInt32BE(0));
  });
});

describe('slotHash', () => {
  it('stays the same function (where new containers land depends on it)', () => {
    expect([slotHash(''), slotHash('a'), slotHash('foobar')]).toEqual([0xab3e7c0b, 0x1a80b1b3, 0x0c0da6dc]);
  });

  it('spreads container-like names over the class minors about as a random function would', () => {
    const slots = 0xfff0 - 0x10 + 1;
    // A random function puts 10,000 names in 65,505 slots with ~9,270 distinct values.
    for (const name of [(i: number) => `c${i}`, (i: number) => `web-${i}`, (i: number) => `svc${i % 100}-pod${Math.floor(i / 100)}`]) {
      const names = Array.from({ length: 10_000 }, (_, i) => name(i));
      expect(new Set(names.map((n) => slotHash(n) % slots)).size).toBeGreaterThan(9_150);
    }
  });
});

describe('hashedDeviceNames', () => {
  it('keeps only the devices that are not the container\'s own "sl-<name>"', () => {
    const hashed = hashedDeviceNames(['a', 'a-name-far-too-long', 'br0', 'b'], ['sl-br0', 'sl-ifb0', 'lo']);
    expect([...hashed.keys()].sort()).toEqual(['a-name-far-too-long', 'br0']);
    expect(hostDevice(hashed, 'a')).toBe('sl-a');
    expect(hostDevice(hashed, 'br0')).toMatch(/^sl-[0-9a-f]{8}$/);
    expect(ownDeviceFree('br0', ['sl-br0'])).toBe(false);
    expect(ownDeviceFree('a-name-far-too-long', [])).toBe(false);
    expect(ownDeviceFree('b', ['sl-br0'])).toBe(true);
  });
});

describe('assignSlotsInOrder', () => {
  /** The slots by name as they were assigned before (a sorted copy of the names, a Map), without groups. */
  const reference = (names: readonly string[], existing: ReadonlyMap<string, number>): Map<string, number> => {
    const out = new Map<string, number>();
    const taken = new Set<number>();
    const sorted = [...names].sort();
    for (const n of sorted) {
      const had = existing.get(n);
      if (had !== undefined && !taken.has(had)) {
        out.set(n, had);
        taken.add(had);
      }
    }
    for (const n of sorted) {
      if (out.has(n)) continue;
      let slot = 0x10 + ((slotHash(n) % (0xfff0 - 0x10 + 1)) | 0);
      while (taken.has(slot)) slot = slot === 0xfff0 ? 0x10 : slot + 1;
      out.set(n, slot);
      taken.add(slot);
    }
    return out;
  };

  it('gives each name, at its index, the slot the name order gives it (kept ones first, then probed)', () => {
    const names = Array.from({ length: 3000 }, (_, i) => `c${(i * 7919) % 10000}`);
    // Two names ask for one slot: the first by name keeps it.
    const existing = new Map([['c7919', 0x20], ['c5838', 0x20], [names[3]!, 0x30]]);
    const inOrder = assignSlotsInOrder(names, existing);
    const expected = reference(names, existing);
    names.forEach((n, i) => expect(inOrder.names[i]).toBe(expected.get(n)));
    expect([inOrder.names[2], inOrder.names[3]]).toEqual([0x20, 0x30]);
    expect(inOrder.names[1]).not.toBe(0x20);
  });
});
