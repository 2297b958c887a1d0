import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeClass,
  decodeCounters,
  decodeFilter,
  decodeHtbXstats,
  decodeQdisc,
  encodeClass,
  encodeFilter,
  encodeQdisc,
  type DecodeContext,
  type EncodeContext,
} from '../../../src/tc/codec/index';
import { makeHandle, TC_H_INGRESS, TC_H_ROOT } from '../../../src/tc/handle';
import type { ClassObject, FilterObject, QdiscObject, QdiscSpec, U32Key } from '../../../src/tc/model';
import { ETH_P_IP } from '../../../src/tc/model';
import { bitsPerSec, bytes } from '../../../src/units/units';
import { attr, nest, u32Attr, u64Attr } from '../../../src/tc/codec/attrs';

const devs = new Map<string, number>([['sl-eth0', 7], ['sl-ifb0', 9]]);
const enc: EncodeContext = {
  ifindexOf: (d) => devs.get(d) ?? 0,
  bpfProgram: () => ({ fd: 42, name: 'sl_netcls' }),
};
const dec: DecodeContext = { netns: 'sl-x', devOf: (i) => [...devs].find(([, v]) => v === i)?.[0] };

const qdisc = (spec: QdiscSpec, parent = TC_H_ROOT): QdiscObject => ({
  type: 'qdisc', netns: 'sl-x', dev: 'sl-eth0', handle: makeHandle(1, 0), parent, spec,
});

describe('qdisc codecs', () => {
  const specs: QdiscSpec[] = [
    { kind: 'htb', defaultMinor: 0xffff, r2q: 10 },
    { kind: 'htb', defaultMinor: 3, r2q: 100, directQlen: 1000 },
    { kind: 'ingress' },
    { kind: 'clsact' },
    { kind: 'pfifo', limitPackets: 100 },
    { kind: 'bfifo', limitBytes: bytes(65536) },
    { kind: 'tbf', rate: bitsPerSec(8_000_000), burst: bytes(32_000), limitBytes: bytes(100_000) },
    { kind: 'tbf', rate: bitsPerSec(80_000_000_000), burst: bytes(10_000_000), limitBytes: bytes(100_000) },
    { kind: 'fq_codel' },
    { kind: 'sfq', perturbSec: 10 },
  ];
  it.each(specs.map((s) => [s.kind, s] as const))('%s round-trips', (_k, spec) => {
    const q = qdisc(spec, spec.kind === 'ingress' || spec.kind === 'clsact' ? TC_H_INGRESS : TC_H_ROOT);
    expect(decodeQdisc(encodeQdisc(q, enc), dec)).toEqual(q);
  });
  it('ignores kinds it does not model', () => {
    expect(decodeQdisc({ ifindex: 7, handle: 0, parent: TC_H_ROOT, info: 0, kind: 'noqueue' }, dec)).toBeUndefined();
  });
});

describe('htb class codec', () => {
  it('round-trips any class whose burst survives the 64 ns tick', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000, max: 100_000_000 }), // ≥ 80 kbit so burst/rate stays under the u32 tick limit (~274 s)
        fc.integer({ min: 10_000, max: 15_000_000 }),
        fc.integer({ min: 1600, max: 1_000_000 }),
        fc.integer({ min: 1600, max: 1_000_000 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1000, max: 200_000 }),
        (rateB, ceilB, burst, cburst, prio, quantum) => {
          const rate = Math.min(rateB, 15_000_000);
          const c: ClassObject = {
            type: 'class', netns: 'sl-x', dev: 'sl-eth0', classid: makeHandle(1, 10), parent: makeHandle(1, 1),
            spec: { kind: 'htb', rate: bitsPerSec(rate * 8), ceil: bitsPerSec(Math.max(rate, ceilB) * 8), burst: bytes(burst), cburst: bytes(cburst), prio, quantum: bytes(quantum) },
          };
          expect(decodeClass(encodeClass(c, enc), dec)).toEqual(c);
        },
      ),
    );
  });
  it('carries rates above 32 bits of bytes/s in RATE64/CEIL64 (burst within a tick)', () => {
    const c: ClassObject = {
      type: 'class', netns: 'sl-x', dev: 'sl-eth0', classid: makeHandle(1, 2), parent: makeHandle(1, 1),
      spec: { kind: 'htb', rate: bitsPerSec(40_000_000_000), ceil: bitsPerSec(100_000_000_000), burst: bytes(1_000_000), cburst: bytes(2_000_000), prio: 1, quantum: bytes(200_000) },
    };
    const back = decodeClass(encodeClass(c, enc), dec)!;
    expect(back.spec.rate).toBe(c.spec.rate);
    expect(back.spec.ceil).toBe(c.spec.ceil);
    expect(Math.abs(back.spec.burst - c.spec.burst)).toBeLessThanOrEqual(c.spec.rate / 8 / 15_625_000);
    expect(Math.abs(back.spec.cburst - c.spec.cburst)).toBeLessThanOrEqual(c.spec.ceil / 8 / 15_625_000);
  });
});

const filter = (spec: FilterObject['spec'], handle = 0x800_0800): FilterObject => ({
  type: 'filter', netns: 'sl-x', dev: 'sl-eth0', parent: makeHandle(1, 0), prio: 5, protocol: ETH_P_IP, handle, spec,
});

const u32Key = fc.record({ value: fc.nat({ max: 0xffffffff }), mask: fc.nat({ max: 0xffffffff }), off: fc.integer({ min: 0, max: 64 }).map((n) => n * 4) })
  .map((k): U32Key => ({ ...k, value: (k.value & k.mask) >>> 0 }));

describe('filter codecs', () => {
  it('u32 keys round-trip', () => {
    fc.assert(fc.property(fc.array(u32Key, { maxLength: 8 }), fc.integer({ min: 1, max: 0xfffe }), (keys, minor) => {
      const f = filter({ kind: 'u32', keys, classid: makeHandle(1, minor) });
      expect(decodeFilter(encodeFilter(f, enc), dec)).toEqual(f);
    }));
  });
  it('u32 hash table, link with hash key, mirred and gact actions round-trip', () => {
    const table = filter({ kind: 'u32', divisor: 256, keys: [] }, 0x0100_0000);
    const link = filter({ kind: 'u32', link: 0x0100_0000, hashKey: { mask: 0xff, off: 16 }, keys: [{ value: 0xc6120b00, mask: 0xffffff00, off: 16 }] });
    const redirect = filter({ kind: 'u32', keys: [], actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: 'sl-ifb0' }] });
    const gact = filter({ kind: 'u32', keys: [], actions: [{ kind: 'gact', action: 'drop' }, { kind: 'mirred', action: 'egress-mirror', targetDev: 'sl-ifb0' }] });
    for (const f of [table, link, redirect, gact]) expect(decodeFilter(encodeFilter(f, enc), dec)).toEqual(f);
  });
  it('bpf round-trips and sends the program fd and name', () => {
    const f = filter({ kind: 'bpf', program: 'netcls-classid', directAction: true, classid: makeHandle(1, 3) }, 1);
    const wire = encodeFilter(f, enc);
    expect(wire.info).toBe((5 << 16) | 0x0008);
    expect(wire.options!.includes(Buffer.from('sl_netcls\0'))).toBe(true);
    expect(decodeFilter(wire, dec)).toEqual(f);
  });
});

describe('statistics', () => {
  it('decodes TCA_STATS2 basic + queue and htb xstats', () => {
    const basic = Buffer.alloc(16); basic.writeBigUInt64LE(123456789n, 0); basic.writeUInt32LE(321, 8);
    const queue = Buffer.alloc(20); [1, 2, 3, 4, 5].forEach((v, i) => queue.writeUInt32LE(v, i * 4));
    const stats2 = Buffer.concat([attr(1, basic), attr(3, queue)]);
    expect(decodeCounters(stats2)).toEqual({ bytes: 123456789, packets: 321, qlen: 1, backlogBytes: 2, drops: 3, requeues: 4, overlimits: 5 });
    const withPkt64 = Buffer.concat([stats2, u64Attr(8, 2 ** 33)]);
    expect(decodeCounters(withPkt64).packets).toBe(2 ** 33);
    const x = Buffer.alloc(20); x.writeUInt32LE(1, 0); x.writeUInt32LE(2, 4); x.writeUInt32LE(3, 8); x.writeInt32LE(-4, 12); x.writeInt32LE(5, 16);
    expect(decodeHtbXstats(x)).toEqual({ lends: 1, borrows: 2, giants: 3, tokens: -4, ctokens: 5 });
    void nest; void u32Attr;
  });
});
