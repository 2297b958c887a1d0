import { describe, expect, it } from 'vitest';
import { splitAnswers } from '../../../src/kernel/netlink/nativeChannel';
import { attr, attrMap, u64At } from '../../../src/kernel/rtnl/attrs';
import { IFLA, IFLA_BR_MCAST_SNOOPING, IFLA_INFO, TCA, TCA_STATS, VETH_INFO_PEER } from '../../../src/kernel/rtnl/constants';
import { bridgeAddress, frame, linkCreateBody, parseTc, tcBody } from '../../../src/kernel/rtnl/messages';
import { decodeCounters } from '../../../src/kernel/rtnl/tc';

const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

describe('rtnetlink decoding', () => {
  it('reads u64 counters above 2^32 as Number(bigint) does', () => {
    for (const n of [0n, 1n, 0xffffffffn, 0x1_0000_0000n, 0x1234_5678_9abcn, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      expect(u64At(u64(n), 0)).toBe(Number(n));
    }
  });

  it('decodes TCA_STATS2 in one pass: basic, queue, 64-bit packets; absent parts are zero', () => {
    const basic = Buffer.concat([u64(5n * 2n ** 32n + 7n), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])]);
    const queue = Buffer.alloc(20);
    [1, 2, 3, 4, 5].forEach((v, i) => queue.writeUInt32LE(v, 4 * i));
    const stats2 = Buffer.concat([attr(TCA_STATS.BASIC, basic), attr(TCA_STATS.QUEUE, queue), attr(TCA_STATS.PKT64, u64(2n ** 40n))]);
    const htb = { lends: 1, borrows: 2, giants: 0, tokens: 3, ctokens: 4 };
    expect(decodeCounters(stats2, htb)).toEqual({ htb, bytes: 5 * 2 ** 32 + 7, packets: 2 ** 40, qlen: 1, backlogBytes: 2, drops: 3, requeues: 4, overlimits: 5 });
    expect(Object.keys(decodeCounters(stats2, htb))[0]).toBe('htb');
    expect(decodeCounters(attr(TCA_STATS.BASIC, basic))).toEqual({ bytes: 5 * 2 ** 32 + 7, packets: 3, qlen: 0, backlogBytes: 0, drops: 0, requeues: 0, overlimits: 0 });
    expect(decodeCounters(undefined)).toEqual({ bytes: 0, packets: 0, qlen: 0, backlogBytes: 0, drops: 0, requeues: 0, overlimits: 0 });
  });

  it('parses a tc message: the first of a repeated attribute counts, absent ones stay absent', () => {
    const options = attr(TCA.OPTIONS, Buffer.from([1, 2, 3, 4]));
    const msg = frame(36, 0, 9, Buffer.concat([tcBody({ ifindex: 3, handle: 0x10000, parent: 0xffffffff, info: 0 }, 'htb', options), attr(TCA.OPTIONS, Buffer.from([9, 9, 9, 9]))]));
    const m = parseTc(msg)!;
    expect(m).toMatchObject({ ifindex: 3, handle: 0x10000, parent: 0xffffffff, kind: 'htb' });
    expect([...m.options!]).toEqual([1, 2, 3, 4]);
    expect('stats2' in m).toBe(false);
  });

  it('splits packed answers back into one Buffer per message, padding skipped', () => {
    const a = frame(3, 0, 1, Buffer.alloc(4));
    const b = frame(2, 0, 2, Buffer.from([1, 2, 3, 4, 5]));
    const c = frame(3, 0, 3, Buffer.alloc(0));
    const pad = (x: Buffer): Buffer => Buffer.concat([x, Buffer.alloc((4 - (x.length % 4)) % 4)]);
    const parts = splitAnswers([Buffer.concat([pad(a), pad(b)]), c]);
    expect(parts.map((p) => p.toString('hex'))).toEqual([a, b, c].map((p) => p.toString('hex')));
    expect(splitAnswers([])).toEqual([]);
  });
});

describe('rtnetlink encoding', () => {
  const IFINFOMSG_LEN = 16;
  const infoData = (body: Buffer): Buffer | undefined => {
    const linkinfo = attrMap(body, IFINFOMSG_LEN).get(IFLA.LINKINFO)!;
    return attrMap(linkinfo).get(IFLA_INFO.DATA);
  };

  it('creates a bridge without multicast snooping, and asks nothing of other kinds', () => {
    const data = infoData(linkCreateBody({ name: 'sl-br0', kind: 'bridge', up: true }))!;
    expect([...attrMap(data).get(IFLA_BR_MCAST_SNOOPING)!]).toEqual([0]);
    expect(infoData(linkCreateBody({ name: 'sl-ifb0', kind: 'ifb', up: true }))).toBeUndefined();
  });

  it('gives a bridge a fixed, locally administered unicast address: the same for the same namespace and name', () => {
    const mac = bridgeAddress('sl-host', 'sl-br0');
    expect(mac).toHaveLength(6);
    expect(mac[0]! & 0x03).toBe(0x02);
    expect(bridgeAddress('sl-host', 'sl-br0')).toEqual(mac);
    expect(bridgeAddress('sl-other', 'sl-br0')).not.toEqual(mac);
    const attrs = attrMap(linkCreateBody({ name: 'sl-br0', kind: 'bridge', up: true, address: mac }), IFINFOMSG_LEN);
    expect(attrs.get(IFLA.ADDRESS)).toEqual(mac);
  });

  it("creates a veth's other end in the namespace given, with its MTU and GSO size, up or down as asked", () => {
    const peerOf = (up: boolean): Buffer => attrMap(infoData(linkCreateBody({ name: 'sl-web', kind: 'veth', up: true, peer: { name: 'eth0', netnsFd: 7, up, mtu: 1400, gsoMaxSize: 16384 } }))!).get(VETH_INFO_PEER)!;
    const flagsAndChange = (ifinfo: Buffer): number[] => [ifinfo.readUInt32LE(8), ifinfo.readUInt32LE(12)];
    const IFF_UP = 1;
    expect(flagsAndChange(peerOf(true))).toEqual([IFF_UP, IFF_UP]);
    expect(flagsAndChange(peerOf(false))).toEqual([0, 0]);
    const peer = peerOf(false);
    const attrs = attrMap(peer, IFINFOMSG_LEN);
    expect(attrs.get(IFLA.IFNAME)!.toString()).toBe('eth0\0');
    expect([IFLA.NET_NS_FD, IFLA.MTU, IFLA.GSO_MAX_SIZE].map((a) => attrs.get(a)!.readUInt32LE(0))).toEqual([7, 1400, 16384]);
  });
});
