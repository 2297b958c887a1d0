import { describe, expect, it } from 'vitest';
import { formatHandle, majorOf, makeHandle, minorOf, parseHandle, TC_H_ROOT } from '../../src/tc/handle';

describe('tc handles', () => {
  it('are unsigned 32-bit even with the top bit set (as the kernel reports them)', () => {
    expect(makeHandle(0xd66a, 0)).toBe(0xd66a0000);
    expect(makeHandle(0xffff, 0)).toBe(0xffff0000);
    expect(majorOf(makeHandle(0x8001, 0x10))).toBe(0x8001);
    expect(minorOf(makeHandle(0x8001, 0x10))).toBe(0x10);
  });

  it('print and parse as tc does', () => {
    expect(formatHandle(makeHandle(1, 0xa))).toBe('1:a');
    expect(formatHandle(makeHandle(0xffff, 0))).toBe('ffff:');
    expect(formatHandle(TC_H_ROOT)).toBe('root');
    expect(parseHandle('1:a')).toBe(makeHandle(1, 10));
    expect(() => parseHandle('x')).toThrow(/not a tc handle/);
  });
});
