import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { MAX_PACKET_BYTES } from '../../src/compile/htb';
import { ACK4_NODE, ACK6_NODE, ACK_MINOR, U32_ROOT_TABLE } from '../../src/compile/trees';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { makeHandle, type TcHandle } from '../../src/tc/handle';
import type { FilterObject, KernelState } from '../../src/tc/model';
import { demoPolicy } from '../support/policy';

const ACK_CLASS = makeHandle(1, ACK_MINOR);
const ROOT_QDISC = makeHandle(1, 0);
const node = (n: number): number => ((U32_ROOT_TABLE << 20) | n) >>> 0;
const WITH_FQ = { features: { leafQdiscs: ['fq_codel' as const, 'pfifo' as const], clsBpf: true } };

function load(text: string): Policy {
  const r = parsePolicyTexts([{ path: 'p.yaml', text }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

/**
 * The class u32 finds for `header` on the qdisc `parent`, read as the kernel does: the
 * root table's nodes in node order, a link's table at the hashed bucket, back to the
 * root's next node when nothing there matches.
 */
function classify(filters: readonly FilterObject[], parent: TcHandle, header: DataView): TcHandle | undefined {
  const onParent = filters.filter((f) => f.parent === parent && f.spec.kind === 'u32' && (f.handle & 0xfff) !== 0);
  const table = (ht: number) => onParent.filter((f) => f.handle >>> 20 === ht).sort((a, b) => (a.handle & 0xfffff) - (b.handle & 0xfffff));
  const matches = (f: FilterObject): boolean => f.spec.kind === 'u32' && f.spec.keys.every((k) => (k.off + 4 <= header.byteLength ? ((header.getUint32(k.off) & k.mask) >>> 0) === k.value >>> 0 : false));
  for (const f of table(U32_ROOT_TABLE)) {
    if (f.spec.kind !== 'u32' || !matches(f)) continue;
    if (f.spec.classid !== undefined) return f.spec.classid;
    const bucket = (header.getUint32(f.spec.hashKey!.off) & f.spec.hashKey!.mask) >>> 0;
    const entry = table(f.spec.link! >>> 20).find((e) => ((e.handle >>> 12) & 0xff) === (bucket & 0xff) && matches(e));
    if (entry !== undefined && entry.spec.kind === 'u32') return entry.spec.classid;
  }
  return undefined;
}

/** An IPv4 TCP segment to `dst`: `ihl` header words, `total` bytes, TCP `flags`. */
function ipv4(dst: number, total: number, flags: number, ihl = 5): DataView {
  const v = new DataView(new ArrayBuffer(Math.max(total, 60)));
  v.setUint8(0, 0x40 | ihl);
  v.setUint16(2, total);
  v.setUint8(9, 6);
  v.setUint32(12, 0xc6120001);
  v.setUint32(16, dst);
  v.setUint8(4 * ihl + 13, flags);
  return v;
}

/** An IPv6 segment (to no container) of `payload` bytes after the fixed header, next header `next`, TCP flags at 53. */
function ipv6(payload: number, flags: number, next = 6): DataView {
  const v = new DataView(new ArrayBuffer(40 + Math.max(payload, 20)));
  v.setUint32(0, 0x60000000);
  v.setUint16(4, payload);
  v.setUint8(6, next);
  v.setUint8(53, flags);
  return v;
}

const ACK = 0x10;
const PSH_ACK = 0x18;
const WEB = 0xc612000a;

describe('compile: the ACK class (a container busy both ways)', () => {
  const { state, containers } = compilePolicy(demoPolicy());
  const web = containers.find((c) => c.name === 'web')!.classes.download!.classid;

  it('adds class 1:3 (prio 0, rate 2% and ceil 5% of the link, quantum one largest packet) and its pfifo leaf 3: to both shared trees', () => {
    for (const dev of ['sl-br0', 'sl-ifb0']) {
      const classes = state.classes.filter((c) => c.dev === dev).map((c) => c.classid);
      expect(classes.slice(0, 3)).toEqual([makeHandle(1, 1), makeHandle(1, 2), ACK_CLASS]);
      const ack = state.classes.find((c) => c.dev === dev && c.classid === ACK_CLASS)!;
      expect(ack.parent).toBe(makeHandle(1, 1));
      expect(ack.spec).toMatchObject({ rate: 2e6, ceil: 5e6, prio: 0, quantum: MAX_PACKET_BYTES });
      expect(state.qdiscs.find((q) => q.dev === dev && q.parent === ACK_CLASS)).toMatchObject({ handle: makeHandle(ACK_MINOR, 0), spec: { kind: 'pfifo', limitPackets: 1000 } });
    }
  });

  it('adds the nodes 800::7ff (IPv4) and 800::7fe (IPv6) to the address filters’ u32 instance on the root qdisc, after its address filters', () => {
    for (const dev of ['sl-br0', 'sl-ifb0']) {
      const filters = state.filters.filter((f) => f.dev === dev && f.parent === ROOT_QDISC && f.prio === 10);
      const acks = filters.filter((f) => f.spec.kind === 'u32' && f.spec.classid === ACK_CLASS);
      expect(acks.map((f) => [f.handle, f.parent, f.prio])).toEqual([
        [node(ACK4_NODE), ROOT_QDISC, 10],
        [node(ACK6_NODE), ROOT_QDISC, 10],
      ]);
      expect(filters.slice(-2)).toEqual(acks);
    }
  });

  it('takes pure ACKs (IPv4 without options, IPv6 without extension headers) to 1:3 and everything else to the container', () => {
    const on = (dev: string, header: DataView) => classify(state.filters.filter((f) => f.dev === dev), ROOT_QDISC, header);
    expect(on('sl-br0', ipv4(WEB, 52, ACK))).toBe(ACK_CLASS);
    expect(on('sl-br0', ipv4(WEB, 127, ACK))).toBe(ACK_CLASS);
    expect(on('sl-br0', ipv4(WEB, 128, ACK))).toBe(web);
    expect(on('sl-br0', ipv4(WEB, 1500, PSH_ACK))).toBe(web);
    expect(on('sl-br0', ipv4(WEB, 52, PSH_ACK))).toBe(web);
    expect(on('sl-br0', ipv4(WEB, 56, ACK, 6))).toBe(web);
    expect(on('sl-ifb0', ipv4(WEB, 52, ACK))).toBe(ACK_CLASS);
    expect(on('sl-br0', ipv6(32, ACK))).toBe(ACK_CLASS);
    // One mask bounds the length: below 128, IPv6's payload (the TCP segment) and IPv4's whole packet.
    expect(on('sl-br0', ipv6(127, ACK))).toBe(ACK_CLASS);
    expect(on('sl-br0', ipv6(128, ACK))).toBeUndefined();
    expect(on('sl-br0', ipv6(32, ACK, 0))).toBeUndefined();
  });

  it('is left out where the leaf hashes flows apart (fq_codel), in per-device mode and with peer sets', () => {
    const fq = compilePolicy(demoPolicy(), WITH_FQ).state;
    const hasAcks = (s: KernelState): boolean => s.classes.some((c) => c.classid === ACK_CLASS) || s.filters.some((f) => f.spec.kind === 'u32' && f.spec.classid === ACK_CLASS);
    expect(hasAcks(fq)).toBe(false);
    expect(fq.classes.filter((c) => c.dev === 'sl-br0')).toHaveLength(2 + 4);
    expect(hasAcks(compilePolicy(demoPolicy((t) => t.replace(/mode: shared/, 'mode: per-device'))).state)).toBe(false);
    expect(hasAcks(compilePolicy(load(readFileSync('policies/destinations/destinations.yaml', 'utf8'))).state)).toBe(false);
  });

  it('with groups, is on the root HTB only, and the lists hold every object at their counted size', () => {
    // web in a group of its own.
    const grouped = demoPolicy((t) => `${t.replace('  address: 198.18.0.10\n', '  address: 198.18.0.10\n  group: shop\n')}---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: shop }
spec:
  download: { guarantee: 40mbit }
  upload: { guarantee: 40mbit }
`);
    const { state: s, groups } = compilePolicy(grouped);
    expect(groups.map((g) => g.name)).toEqual(['shop']);
    const acks = s.filters.filter((f) => f.spec.kind === 'u32' && f.spec.classid === ACK_CLASS);
    expect(acks.map((f) => [f.dev, f.parent])).toEqual([
      ['sl-br0', ROOT_QDISC],
      ['sl-br0', ROOT_QDISC],
      ['sl-ifb0', ROOT_QDISC],
      ['sl-ifb0', ROOT_QDISC],
    ]);
    expect(s.classes.filter((c) => c.classid === ACK_CLASS)).toHaveLength(2);
    for (const state of [s, compilePolicy(grouped, WITH_FQ).state]) for (const list of [state.qdiscs, state.classes, state.filters]) expect(Object.keys(list).length).toBe(list.length);
  });
});
