// rtnetlink message framing: struct nlmsghdr + the family header of each request
// (ifinfomsg, ifaddrmsg, rtmsg, tcmsg) + attributes. Pure; the port sends them.

import { attr, attrMap, nest, readString, readU32, stringAttr, u32Attr, type Attr, parseAttrs } from '../../tc/codec/attrs';
import type { TcWireMessage } from '../../tc/codec/types';
import { TCA } from '../../tc/codec/constants';

export const NLMSG = { ERROR: 2, DONE: 3 } as const;
export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, ACK_TLVS: 0x200, CAPPED: 0x100 } as const;
export const NLMSGERR_ATTR_MSG = 1;
export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWQDISC: 36, DELQDISC: 37, GETQDISC: 38,
  NEWTCLASS: 40, DELTCLASS: 41, GETTCLASS: 42,
  NEWTFILTER: 44, DELTFILTER: 45, GETTFILTER: 46,
} as const;
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const IFF_UP = 0x1;
export const IFLA = { IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28, LINK_NETNSID: 37 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const VETH_INFO_PEER = 1;
export const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
export const RTPROT = { KERNEL: 2, BOOT: 3, STATIC: 4 } as const;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;
export const RTN_UNICAST = 1;

const NLMSG_HDRLEN = 16;

export function frame(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const hdr = Buffer.alloc(NLMSG_HDRLEN);
  hdr.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq, 8);
  return Buffer.concat([hdr, body]);
}

export interface Reply {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Everything after struct nlmsghdr. */
  readonly body: Buffer;
}

export function parseReply(msg: Buffer): Reply {
  const len = Math.min(msg.readUInt32LE(0), msg.length);
  return { type: msg.readUInt16LE(4), flags: msg.readUInt16LE(6), seq: msg.readUInt32LE(8), body: msg.subarray(NLMSG_HDRLEN, len) };
}

export interface NlError {
  /** Positive errno; 0 for an acknowledgement. */
  readonly errno: number;
  readonly message?: string;
}

/** struct nlmsgerr: int error, the request's nlmsghdr (payload too unless capped), then ext-ack TLVs. */
export function parseError(reply: Reply): NlError {
  const errno = -reply.body.readInt32LE(0);
  if (!(reply.flags & NLM_F.ACK_TLVS)) return { errno };
  const origLen = reply.body.readUInt32LE(4);
  const tlvAt = 4 + (reply.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : (origLen + 3) & ~3);
  const message = readString(attrMap(reply.body, tlvAt).get(NLMSGERR_ATTR_MSG));
  return message ? { errno, message } : { errno };
}

// ------------------------------------------------------------------ links

export function ifinfomsg(index: number, flags = 0, change = 0, family = AF_UNSPEC): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

export interface LinkRequest {
  readonly name: string;
  readonly up?: boolean;
  readonly mtu?: number;
  readonly masterIndex?: number;
  /** IFLA_INFO_KIND, and for a veth its peer (created directly in the namespace given by fd). */
  readonly kind?: string;
  readonly peer?: { readonly name: string; readonly netnsFd?: number };
}

export function linkBody(req: LinkRequest, index = 0): Buffer {
  const upFlags = req.up === undefined ? [0, 0] : [req.up ? IFF_UP : 0, IFF_UP];
  const attrs: Buffer[] = [stringAttr(IFLA.IFNAME, req.name)];
  if (req.mtu !== undefined) attrs.push(u32Attr(IFLA.MTU, req.mtu));
  if (req.masterIndex !== undefined) attrs.push(u32Attr(IFLA.MASTER, req.masterIndex));
  if (req.kind !== undefined) {
    const info = [stringAttr(IFLA_INFO.KIND, req.kind)];
    if (req.peer) {
      const peerAttrs = [stringAttr(IFLA.IFNAME, req.peer.name)];
      if (req.peer.netnsFd !== undefined) peerAttrs.push(u32Attr(IFLA.NET_NS_FD, req.peer.netnsFd));
      // VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's attributes.
      info.push(nest(IFLA_INFO.DATA, [attr(VETH_INFO_PEER, Buffer.concat([ifinfomsg(0), ...peerAttrs]))]));
    }
    attrs.push(nest(IFLA.LINKINFO, info));
  }
  return Buffer.concat([ifinfomsg(index, upFlags[0], upFlags[1]), ...attrs]);
}

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly mtu?: number;
  readonly masterIndex?: number;
  readonly kind?: string;
}

export function parseLink(body: Buffer): LinkInfo {
  const a = attrMap(body, 16);
  const info = a.get(IFLA.LINKINFO);
  const kind = info ? readString(attrMap(info).get(IFLA_INFO.KIND)) : undefined;
  const mtu = readU32(a.get(IFLA.MTU));
  const master = readU32(a.get(IFLA.MASTER));
  return {
    index: body.readInt32LE(4),
    name: readString(a.get(IFLA.IFNAME)) ?? '',
    up: (body.readUInt32LE(8) & IFF_UP) !== 0,
    ...(mtu !== undefined ? { mtu } : {}),
    ...(master !== undefined && master !== 0 ? { masterIndex: master } : {}),
    ...(kind !== undefined ? { kind } : {}),
  };
}

// ------------------------------------------------------------------ addresses and routes

const ipv4 = (text: string): Buffer => Buffer.from(text.split('.').map((p) => Number(p)));
const ipv4Text = (b: Buffer): string => [...b.subarray(0, 4)].join('.');

export function splitCidr(cidr: string): { readonly ip: string; readonly prefix: number } {
  const [ip, prefix] = cidr.split('/');
  return { ip: ip ?? '', prefix: prefix === undefined ? 32 : Number(prefix) };
}

export function addressBody(index: number, cidr: string): Buffer {
  const { ip, prefix } = splitCidr(cidr);
  const h = Buffer.alloc(8);
  h.writeUInt8(AF_INET, 0);
  h.writeUInt8(prefix, 1);
  h.writeUInt8(RT_SCOPE.UNIVERSE, 3);
  h.writeUInt32LE(index, 4);
  return Buffer.concat([h, attr(IFA.LOCAL, ipv4(ip)), attr(IFA.ADDRESS, ipv4(ip))]);
}

export function parseAddress(body: Buffer): { readonly index: number; readonly cidr: string } | undefined {
  if (body.readUInt8(0) !== AF_INET) return undefined;
  const a = attrMap(body, 8);
  const local = a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS);
  if (!local) return undefined;
  return { index: body.readUInt32LE(4), cidr: `${ipv4Text(local)}/${body.readUInt8(1)}` };
}

export function routeBody(dst: string, via: string | undefined, oif: number | undefined): Buffer {
  const { ip, prefix } = dst === 'default' ? { ip: '0.0.0.0', prefix: 0 } : splitCidr(dst);
  const h = Buffer.alloc(12);
  h.writeUInt8(AF_INET, 0);
  h.writeUInt8(prefix, 1);
  h.writeUInt8(RT_TABLE_MAIN, 4);
  h.writeUInt8(RTPROT.STATIC, 5);
  h.writeUInt8(via ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK, 6);
  h.writeUInt8(RTN_UNICAST, 7);
  const attrs = [u32Attr(RTA.TABLE, RT_TABLE_MAIN)];
  if (prefix > 0) attrs.push(attr(RTA.DST, ipv4(ip)));
  if (via) attrs.push(attr(RTA.GATEWAY, ipv4(via)));
  if (oif !== undefined) attrs.push(u32Attr(RTA.OIF, oif));
  return Buffer.concat([h, ...attrs]);
}

export interface RouteInfo {
  readonly dst: string;
  readonly via?: string;
  readonly oif?: number;
}

/** Static IPv4 unicast routes of the main table; kernel-made (connected, local) ones are not ours. */
export function parseRoute(body: Buffer): RouteInfo | undefined {
  if (body.readUInt8(0) !== AF_INET || body.readUInt8(5) === RTPROT.KERNEL || body.readUInt8(7) !== RTN_UNICAST) return undefined;
  const a = attrMap(body, 12);
  const table = readU32(a.get(RTA.TABLE)) ?? body.readUInt8(4);
  if (table !== RT_TABLE_MAIN) return undefined;
  const prefix = body.readUInt8(1);
  const dst = a.get(RTA.DST);
  const gw = a.get(RTA.GATEWAY);
  const oif = readU32(a.get(RTA.OIF));
  return {
    dst: prefix === 0 || !dst ? 'default' : `${ipv4Text(dst)}/${prefix}`,
    ...(gw ? { via: ipv4Text(gw) } : {}),
    ...(oif !== undefined ? { oif } : {}),
  };
}

// ------------------------------------------------------------------ tc

export function tcBody(m: Pick<TcWireMessage, 'ifindex' | 'handle' | 'parent' | 'info'> & { kind?: string; options?: Buffer }): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt8(AF_UNSPEC, 0);
  h.writeInt32LE(m.ifindex, 4);
  h.writeUInt32LE(m.handle >>> 0, 8);
  h.writeUInt32LE(m.parent >>> 0, 12);
  h.writeUInt32LE(m.info >>> 0, 16);
  const attrs: Buffer[] = [];
  if (m.kind !== undefined) attrs.push(stringAttr(TCA.KIND, m.kind));
  // Even an option-less kind gets an empty TCA_OPTIONS only when it has options to send.
  if (m.options !== undefined) attrs.push(attr(TCA.OPTIONS, m.options));
  return Buffer.concat([h, ...attrs]);
}

export function parseTc(body: Buffer): TcWireMessage {
  const attrs: Attr[] = parseAttrs(body, 20);
  const get = (t: number): Buffer | undefined => attrs.find((x) => x.type === t)?.payload;
  const options = get(TCA.OPTIONS);
  const stats2 = get(TCA.STATS2);
  const xstats = get(TCA.XSTATS);
  return {
    ifindex: body.readInt32LE(4),
    handle: body.readUInt32LE(8),
    parent: body.readUInt32LE(12),
    info: body.readUInt32LE(16),
    kind: readString(get(TCA.KIND)) ?? '',
    ...(options ? { options } : {}),
    ...(stats2 ? { stats2 } : {}),
    ...(xstats ? { xstats } : {}),
  };
}

/** A dump request: the family header zeroed (or with an ifindex for tc). */
export function dumpRequest(type: number, seq: number, family = AF_UNSPEC, ifindex = 0): Buffer {
  const isTc = type === RTM.GETQDISC || type === RTM.GETTCLASS || type === RTM.GETTFILTER;
  const isLink = type === RTM.GETLINK;
  const h = Buffer.alloc(isTc ? 20 : isLink ? 16 : type === RTM.GETADDR ? 8 : 12);
  h.writeUInt8(family, 0);
  if (isTc) h.writeInt32LE(ifindex, 4);
  return frame(type, NLM_F.REQUEST | NLM_F.DUMP, seq, h);
}
