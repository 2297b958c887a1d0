// From TCP goodput (what the receiver counts) to the bits HTB counts. HTB charges
// qdisc_pkt_len(skb) at the device: the whole frame including the 14-byte Ethernet header
// (no preamble, FCS or inter-frame gap on a veth), and for a GSO skb the headers of every
// segment it will become. So per full-sized segment the class is charged
// MTU + L2 header bytes for MTU - IP - TCP - TCP options bytes of payload.
import { bitsPerSec, bytes, type BitsPerSec, type Bytes } from '../units/units';

export interface FrameGeometry {
  /** The device MTU: the IP packet size of a full segment. */
  readonly mtu: Bytes;
  /** Link-layer header HTB sees in skb->len (Ethernet: 14; no VLAN tag on a veth). */
  readonly l2HeaderBytes: Bytes;
  /** IPv4: 20 (no options); IPv6: 40. */
  readonly ipHeaderBytes: Bytes;
  /** The fixed TCP header: 20. */
  readonly tcpHeaderBytes: Bytes;
  /** Options in every data segment: 12 with timestamps (10 + 2 of padding), 0 without. */
  readonly tcpOptionBytes: Bytes;
}

/** Linux defaults on a veth: MTU 1500, IPv4, TCP timestamps on (net.ipv4.tcp_timestamps=1). */
export const ETHERNET_IPV4_TCP_TIMESTAMPS: FrameGeometry = {
  mtu: bytes(1500),
  l2HeaderBytes: bytes(14),
  ipHeaderBytes: bytes(20),
  tcpHeaderBytes: bytes(20),
  tcpOptionBytes: bytes(12),
};

/** The same over IPv6: a 40-byte IP header, so 1428 bytes of payload per 1514 on the wire. */
export const ETHERNET_IPV6_TCP_TIMESTAMPS: FrameGeometry = { ...ETHERNET_IPV4_TCP_TIMESTAMPS, ipHeaderBytes: bytes(40) };

/** TCP payload in one full segment (the MSS actually used): 1448 with the defaults. */
export function payloadBytesPerSegment(geometry: FrameGeometry): Bytes {
  const payload = geometry.mtu - geometry.ipHeaderBytes - geometry.tcpHeaderBytes - geometry.tcpOptionBytes;
  if (payload <= 0) throw new RangeError(`MTU ${geometry.mtu} leaves no TCP payload after headers`);
  return bytes(payload);
}

/** Bytes HTB counts for one full segment: 1514 with the defaults. */
export function wireBytesPerSegment(geometry: FrameGeometry): Bytes {
  return bytes(geometry.mtu + geometry.l2HeaderBytes);
}

/** Wire bits per goodput bit for a bulk TCP flow: 1514 / 1448 ≈ 1.0456 with the defaults. */
export function l2OverheadFactor(geometry: FrameGeometry = ETHERNET_IPV4_TCP_TIMESTAMPS): number {
  return wireBytesPerSegment(geometry) / payloadBytesPerSegment(geometry);
}

/** The rate HTB sees for a measured goodput. */
export function goodputToWireRate(goodput: BitsPerSec, geometry: FrameGeometry = ETHERNET_IPV4_TCP_TIMESTAMPS): BitsPerSec {
  return bitsPerSec(goodput * l2OverheadFactor(geometry));
}

/** The goodput a bulk TCP flow gets through an HTB class of this rate. */
export function wireRateToGoodput(wire: BitsPerSec, geometry: FrameGeometry = ETHERNET_IPV4_TCP_TIMESTAMPS): BitsPerSec {
  return bitsPerSec(wire / l2OverheadFactor(geometry));
}
