import { afterEach, describe, expect, it } from 'vitest';
import { deleteNetns, listNetns } from '../../../src/kernel/native';
import { detectFeatures } from '../../../src/kernel/features';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('features.kernel.test.ts skipped: needs root');

afterEach(() => {
  for (const ns of listNetns().filter((n) => n.startsWith('sl-kp'))) deleteNetns(ns);
});

describe.runIf(isRoot)('detectFeatures', () => {
  it('finds the leaf qdiscs and cls_bpf of this kernel and leaves nothing behind', async () => {
    const features = await detectFeatures('sl-kp-feat');
    console.log(JSON.stringify(features));
    expect(features.leafQdiscs).toContain('pfifo');
    expect(typeof features.clsBpf).toBe('boolean');
    expect(listNetns().filter((n) => n.startsWith('sl-kp'))).toEqual([]);
  });
});
