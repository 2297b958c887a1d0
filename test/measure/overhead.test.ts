import { describe, expect, it } from 'vitest';
import {
  ETHERNET_IPV4_TCP_TIMESTAMPS,
  goodputToWireRate,
  l2OverheadFactor,
  payloadBytesPerSegment,
  wireBytesPerSegment,
  wireRateToGoodput,
} from '../../src/measure/overhead';
import { bitsPerSec, bytes } from '../../src/units/units';

describe('measure: L2 overhead', () => {
  it('MTU 1500 with TCP timestamps: 1448 B payload, 1514 B counted by HTB', () => {
    expect(payloadBytesPerSegment(ETHERNET_IPV4_TCP_TIMESTAMPS)).toBe(1448);
    expect(wireBytesPerSegment(ETHERNET_IPV4_TCP_TIMESTAMPS)).toBe(1514);
    expect(l2OverheadFactor()).toBeCloseTo(1514 / 1448, 12);
  });

  it('follows the geometry: no timestamps, IPv6, jumbo frames', () => {
    expect(l2OverheadFactor({ ...ETHERNET_IPV4_TCP_TIMESTAMPS, tcpOptionBytes: bytes(0) })).toBeCloseTo(1514 / 1460, 12);
    expect(l2OverheadFactor({ ...ETHERNET_IPV4_TCP_TIMESTAMPS, ipHeaderBytes: bytes(40) })).toBeCloseTo(1514 / 1428, 12);
    expect(l2OverheadFactor({ ...ETHERNET_IPV4_TCP_TIMESTAMPS, mtu: bytes(9000) })).toBeCloseTo(9014 / 8948, 12);
  });

  it('converts both ways', () => {
    const goodput = bitsPerSec(47.8e6);
    expect(wireRateToGoodput(goodputToWireRate(goodput))).toBeCloseTo(goodput, 3);
    expect(goodputToWireRate(goodput)).toBeCloseTo(49.98e6, -4);
  });

  it('rejects an MTU too small for the headers', () => {
    expect(() => payloadBytesPerSegment({ ...ETHERNET_IPV4_TCP_TIMESTAMPS, mtu: bytes(40) })).toThrow(/no TCP payload/);
  });
});
