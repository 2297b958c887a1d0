import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipToInt } from '../../src/net/ipv4';
import { addressTable, TAGGED_FIELDS } from '../../src/compile/trees';
import { compilePolicy } from '../../src/compile';
import { syntheticPolicyDirect } from '../../bench/fixtures';
import type { TcHandle } from '../../src/tc/handle';

describe('addressTable', () => {
  it('lists addresses ascending, equal addresses in the order given (a stable sort by address)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const address = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    // Few distinct first octets and many repeats, so ties are common.
    const entry = fc.record({ address: fc.oneof(address, fc.constantFrom('10.0.0.1', '198.18.0.2', '255.255.255.255', '0.0.0.0')), classid: fc.integer({ min: 0x10010, max: 0x1fff0 }) as fc.Arbitrary<TcHandle> });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 300 }), (entries) => {
        const expected = entries.map((e, i) => ({ ip: ipToInt(e.address), classid: e.classid, i })).sort((a, b) => a.ip - b.ip || a.i - b.i);
        const table = addressTable(entries.map((e) => ipToInt(e.address)), entries.map((e) => e.classid));
        expect([...table.ips]).toEqual(expected.map((e) => e.ip));
        expect([...table.classids]).toEqual(expected.map((e) => e.classid));
      }),
    );
  });

  it('sorts the same way within a subnet (integer keys), the addresses given as u32s or as their int32 bits', () => {
    const entry = fc.record({ host: fc.integer({ min: 0, max: 0xffff }), classid: fc.integer({ min: 0x10010, max: 0x1fff0 }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 300 }), fc.constantFrom('198.18.0.0', '10.0.0.0', '127.255.128.0'), (entries, network) => {
        const ips = entries.map((e) => (ipToInt(network) + e.host) >>> 0);
        const expected = entries.map((e, i) => ({ ip: ips[i]!, classid: e.classid, i })).sort((a, b) => a.ip - b.ip || a.i - b.i);
        for (const given of [ips, Int32Array.from(ips, (ip) => ip | 0)]) {
          const table = addressTable(given, entries.map((e) => e.classid));
          expect([...table.ips]).toEqual(expected.map((e) => e.ip));
          expect([...table.classids]).toEqual(expected.map((e) => e.classid));
        }
      }),
    );
  });

  it('is empty for no entries', () => {
    expect(addressTable([], [])).toEqual({ ips: [], classids: new Uint32Array(0) });
  });
});

describe('TAGGED_FIELDS', () => {
  // The seeds only work on objects of their shape: the same keys in the same order.
  // A compile that made its qdiscs, filters, u32 keys or classifying u32 specs with other
  // keys, or in another order, would silently be back to a boxed double per handle
  // (bench/compile).
  it('has the keys, in order, of every qdisc, filter, u32 key and classifying u32 spec a compile makes', () => {
    const keysOf = (o: object): string => Object.keys(o).join(',');
    const [qdisc, filter, key, classifier] = TAGGED_FIELDS.map(keysOf);
    for (const options of [{ groups: 3 }, { dualStack: true }, { mode: 'per-device' as const }]) {
      const { state } = compilePolicy(syntheticPolicyDirect(20, options));
      expect(new Set(state.qdiscs.map(keysOf))).toEqual(new Set([qdisc]));
      expect(new Set(state.filters.map(keysOf))).toEqual(new Set(state.filters.length > 0 ? [filter] : []));
      const keys = state.filters.flatMap((f) => (f.spec.kind === 'u32' ? f.spec.keys : []));
      expect(new Set(keys.map(keysOf))).toEqual(new Set(keys.length > 0 ? [key] : []));
      // Address entries and the port hooks' pass node (dual-stack): a class id and keys only.
      const classifiers = state.filters.flatMap((f) => (f.spec.kind === 'u32' && f.spec.classid !== undefined ? [f.spec] : []));
      expect(new Set(classifiers.map(keysOf))).toEqual(new Set(classifiers.length > 0 ? [classifier] : []));
    }
  });
});
