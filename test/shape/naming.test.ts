import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { slotHash, stableHash } from '../../src/shape/naming';

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

