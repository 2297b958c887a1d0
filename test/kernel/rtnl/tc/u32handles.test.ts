import { describe, expect, it } from 'vitest';
import { canonicalU32Handle, isU32RootTableEntry, rememberKernelHandle, u32CreateHandle, u32DeleteHandle } from '../../../../src/kernel/rtnl/tc/u32handles';

describe('u32 handles on a qdisc shared with foreign u32 filters', () => {
  it('reads any kernel-allocated root table (800:, 801:…) back as 800:, and leaves explicit tables alone', () => {
    expect(canonicalU32Handle(0x80100800)).toBe(0x80000800);
    expect(canonicalU32Handle(0x80000800)).toBe(0x80000800);
    expect(canonicalU32Handle(0x00203001)).toBe(0x00203001);
  });

  it('skips the root tables themselves, not their entries nor explicit tables', () => {
    expect(isU32RootTableEntry(0x80000000)).toBe(true);
    expect(isU32RootTableEntry(0x80100000)).toBe(true);
    expect(isU32RootTableEntry(0x80100800)).toBe(false);
    expect(isU32RootTableEntry(0x00200000)).toBe(false);
  });

  it('creates root-table entries by node only, deletes observed ones by their kernel handle', () => {
    expect(u32CreateHandle(0x80000800)).toBe(0x800);
    expect(u32CreateHandle(0x00201001)).toBe(0x00201001);
    const observed = {};
    rememberKernelHandle(observed, 0x80100800);
    expect(u32DeleteHandle(observed, 0x80000800)).toBe(0x80100800);
    expect(u32DeleteHandle({}, 0x80000800)).toBe(0x80000800);
  });
});
