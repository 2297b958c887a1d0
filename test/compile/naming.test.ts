import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stableHash } from '../../src/compile/naming';

describe('stableHash', () => {
  it('is the first 32 bits of sha256, read big-endian (class minors and device names depend on it)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(stableHash(text)).toBe(createHash('sha256').update(text).digest().readUInt32BE(0));
      }),
    );
    expect(stableHash('c0')).toBe(createHash('sha256').update('c0').digest().readUInt32BE(0));
  });
});
