// rtnetlink messages: the fixed headers (nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, tcmsg)
// and their attributes, built and parsed without I/O.

import { createHash } from 'node:crypto';
import { MalformedReplyError } from '../../errors';
import { ipv6Bytes, ipv6FromBytes, isIpv6 } from '../../net/ipv6';
import { attr, attrMap, attrOf, NLA_TYPE_MASK, nestedPlain, readCString, readString, readU32, stringAttr, u32Attr, u8Attr } from './attrs';
import { AF_INET, AF_INET6, AF_UNSPEC, IFA, IFA_F_NODAD, IFF_UP, IFLA, IFLA_BR_MCAST_SNOOPING, IFLA_BRPORT_ISOLATED, IFLA_INFO, NLM_F, NLMSG, NLMSGERR_ATTR_MSG, RT_SCOPE, RT_TABLE_MAIN, RTA, RTM, RTN_UNICAST, RTPROT, TCA, VETH_INFO_PEER } from './constants';

export const NLMSG_HDRLEN = 16;

/**
 * A message must hold its family's fixed header after the nlmsghdr before any field is
 * read; its attributes end where the message does, whatever nlmsg_len claims.
 */
function readable(msg: Buffer, header: number, what: string): number {
  if (msg.length < NLMSG_HDRLEN + header) throw new MalformedReplyError(what === TC_ANSWER ? tcAnswer(msg) : what, `${msg.length} bytes, shorter than its ${NLMSG_HDRLEN + header}-byte header`);
  return Math.min(msg.readUInt32LE(0), msg.length);
}

export interface NlHeader {
  readonly len: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
}

export function frame(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const hdr = Buffer.alloc(NLMSG_HDRLEN);
  hdr.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags | NLM_F.REQUEST, 6);
  hdr.writeUInt32LE(seq, 8);
  return Buffer.concat([hdr, body]);
}

export function header(msg: Buffer): NlHeader {
  return { len: msg.readUInt32LE(0), type: msg.readUInt16LE(4), flags: msg.readUInt16LE(6), seq: msg.readUInt32LE(8) };
}

export interface NlError {
  /** Positive errno; 0 is an acknowledgement. */
  readonly errno: number;
  readonly message?: string;
}

/** An NLMSG_ERROR reply: the errno and the kernel's extended-ack text. */
export function parseError(msg: Buffer): NlError {
  const end = readable(msg, 4, 'NLMSG_ERROR answer');
  const errno = -msg.readInt32LE(NLMSG_HDRLEN);
  const h = header(msg);
  if (!(h.flags & NLM_F.ACK_TLVS)) return { errno };
  // With NETLINK_CAP_ACK the original request is not echoed: only its header follows.
  const tlvStart = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN;
  const text = readString(attrMap(msg, tlvStart, end).get(NLMSGERR_ATTR_MSG));
  return { errno, ...(text ? { message: text } : {}) };
}

export const isError = (msg: Buffer): boolean => header(msg).type === NLMSG.ERROR;
export const isDone = (msg: Buffer): boolean => header(msg).type === NLMSG.DONE;

// ---------------------------------------------------------------- links

export function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

export interface LinkCreate {
  readonly name: string;
  readonly kind: 'bridge' | 'ifb' | 'veth';
  readonly up: boolean;
  readonly mtu?: number;
  readonly masterIndex?: number;
  readonly gsoMaxSize?: number;
  /** The device's hardware address (six bytes); the kernel's choice when absent. */
  readonly address?: Buffer;
  /** veth only: the peer's name and the fd of the namespace it is created in. */
  readonly peer?: { readonly name: string; readonly netnsFd: number; readonly up: boolean; readonly mtu?: number; readonly gsoMaxSize?: number };
}

export function linkCreateBody(l: LinkCreate): Buffer {
  const attrs: Buffer[] = [stringAttr(IFLA.IFNAME, l.name)];
  if (l.address !== undefined) attrs.push(attr(IFLA.ADDRESS, l.address));
  if (l.mtu !== undefined) attrs.push(u32Attr(IFLA.MTU, l.mtu));
  if (l.masterIndex !== undefined) attrs.push(u32Attr(IFLA.MASTER, l.masterIndex));
  if (l.gsoMaxSize !== undefined) attrs.push(u32Attr(IFLA.GSO_MAX_SIZE, l.gsoMaxSize));
  const info: Buffer[] = [stringAttr(IFLA_INFO.KIND, l.kind)];
  if (l.kind === 'veth' && l.peer) {
    const peer = Buffer.concat([
      ifinfomsg(0, l.peer.up ? IFF_UP : 0, l.peer.up ? IFF_UP : 0),
      stringAttr(IFLA.IFNAME, l.peer.name),
      u32Attr(IFLA.NET_NS_FD, l.peer.netnsFd),
      ...(l.peer.mtu !== undefined ? [u32Attr(IFLA.MTU, l.peer.mtu)] : []),
      ...(l.peer.gsoMaxSize !== undefined ? [u32Attr(IFLA.GSO_MAX_SIZE, l.peer.gsoMaxSize)] : []),
    ]);
    info.push(nestedPlain(IFLA_INFO.DATA, [attr(VETH_INFO_PEER, peer)]));
  }
  // Snooping re-arms every port's multicast timers whenever any port changes state:
  // quadratic in the ports when a thousand containers come up. Multicast floods instead.
  if (l.kind === 'bridge') info.push(nestedPlain(IFLA_INFO.DATA, [u8Attr(IFLA_BR_MCAST_SNOOPING, 0)]));
  attrs.push(nestedPlain(IFLA.LINKINFO, info));
  return Buffer.concat([ifinfomsg(0, l.up ? IFF_UP : 0, IFF_UP), ...attrs]);
}

/**
 * The hardware address of a bridge Sluice creates: locally administered, unicast, and
 * the same for the same namespace and name. A bridge left to the kernel takes the lowest
 * address among its ports, so it changes when that port leaves (or a lower one joins):
 * containers' ARP entries for the gateway may then name an address the bridge no longer
 * answers to, and their traffic to the gateway stops until the entry is resolved again.
 * Docker fixes docker0's address for the same reason. Stable across
 * re-creation, so a bridge rebuilt after a crash keeps the address neighbours cached.
 */
export function bridgeAddress(netns: string, name: string): Buffer {
  const mac = Buffer.from(createHash('sha256').update(`${netns}\0${name}`).digest().subarray(0, 6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

export interface LinkChange {
  readonly index: number;
  readonly up?: boolean;
  readonly mtu?: number;
  readonly masterIndex?: number;
  readonly gsoMaxSize?: number;
  /** The device group (iproute2's `link set group`): how links are marked for a group delete. */
  readonly group?: number;
  /**
   * A bridge port's isolation. Only in a request of its own on a port already enslaved:
   * the kernel reads a port's attributes with the ops of the master it has before the
   * request (a new device's IFLA_MASTER and port attributes cannot go in one request).
   */
  readonly isolated?: boolean;
}

export function linkChangeBody(c: LinkChange): Buffer {
  const attrs: Buffer[] = [];
  if (c.group !== undefined) attrs.push(u32Attr(IFLA.GROUP, c.group));
  if (c.mtu !== undefined) attrs.push(u32Attr(IFLA.MTU, c.mtu));
  if (c.masterIndex !== undefined) attrs.push(u32Attr(IFLA.MASTER, c.masterIndex));
  if (c.gsoMaxSize !== undefined) attrs.push(u32Attr(IFLA.GSO_MAX_SIZE, c.gsoMaxSize));
  if (c.isolated !== undefined) attrs.push(nestedPlain(IFLA.LINKINFO, [stringAttr(IFLA_INFO.SLAVE_KIND, 'bridge'), nestedPlain(IFLA_INFO.SLAVE_DATA, [u8Attr(IFLA_BRPORT_ISOLATED, c.isolated ? 1 : 0)])]));
  return Buffer.concat([ifinfomsg(c.index, c.up ? IFF_UP : 0, c.up === undefined ? 0 : IFF_UP), ...attrs]);
}

export const linkDumpBody = (): Buffer => ifinfomsg(0);

/** RTM_DELLINK's body that deletes every device of `group` in the namespace, in one go. */
export const groupDeleteBody = (group: number): Buffer => Buffer.concat([ifinfomsg(0), u32Attr(IFLA.GROUP, group)]);

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly mtu: number;
  readonly gsoMaxSize?: number;
  readonly kind?: string;
  readonly masterIndex?: number;
  /** veth: the peer's ifindex (in the peer's namespace) and that namespace's id here. */
  readonly peerIndex?: number;
  readonly peerNetnsId?: number;
  /** A bridge port: whether it is isolated (IFLA_BRPORT_ISOLATED); absent on other devices. */
  readonly isolated?: boolean;
}

export function parseLink(msg: Buffer): LinkInfo | undefined {
  const end = readable(msg, 16, 'RTM_NEWLINK answer');
  const index = msg.readInt32LE(NLMSG_HDRLEN + 4);
  const flags = msg.readUInt32LE(NLMSG_HDRLEN + 8);
  const a = attrMap(msg, NLMSG_HDRLEN + 16, end);
  const name = readString(a.get(IFLA.IFNAME));
  if (!name) return undefined;
  const info = a.get(IFLA.LINKINFO);
  const infoAttrs = info ? attrMap(info) : undefined;
  const kind = infoAttrs ? readString(infoAttrs.get(IFLA_INFO.KIND)) : undefined;
  const isolated = infoAttrs ? bridgePortIsolated(infoAttrs) : undefined;
  const master = readU32(a.get(IFLA.MASTER));
  const link = readU32(a.get(IFLA.LINK));
  const nsidAttr = a.get(IFLA.LINK_NETNSID);
  if (nsidAttr && nsidAttr.length < 4) throw new MalformedReplyError(`RTM_NEWLINK answer for ${name}`, `IFLA_LINK_NETNSID of ${nsidAttr.length} bytes, not 4`);
  const nsid = nsidAttr?.readInt32LE(0);
  return {
    index,
    name,
    up: (flags & IFF_UP) !== 0,
    mtu: readU32(a.get(IFLA.MTU)) ?? 0,
    ...(a.has(IFLA.GSO_MAX_SIZE) ? { gsoMaxSize: readU32(a.get(IFLA.GSO_MAX_SIZE))! } : {}),
    ...(kind ? { kind } : {}),
    ...(master ? { masterIndex: master } : {}),
    ...(link !== undefined && link !== index ? { peerIndex: link } : {}),
    ...(nsid !== undefined ? { peerNetnsId: nsid } : {}),
    ...(isolated !== undefined ? { isolated } : {}),
  };
}

/** A bridge port's IFLA_BRPORT_ISOLATED from its IFLA_LINKINFO; undefined for a device that is no bridge's port. */
function bridgePortIsolated(info: ReadonlyMap<number, Buffer>): boolean | undefined {
  const data = info.get(IFLA_INFO.SLAVE_DATA);
  if (!data || readString(info.get(IFLA_INFO.SLAVE_KIND)) !== 'bridge') return undefined;
  const flag = attrOf(data, IFLA_BRPORT_ISOLATED);
  return flag === undefined || flag.length < 1 ? undefined : flag.readUInt8(0) !== 0;
}

// ---------------------------------------------------------------- addresses

function ifaddrmsg(family: number, prefix: number, index: number, flags = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefix, 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(RT_SCOPE.UNIVERSE, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

const ipv4 = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** An address's bytes and family: IPv6 when it has a colon. */
const ipBytes = (ip: string): { family: number; bytes: Buffer } => (isIpv6(ip) ? { family: AF_INET6, bytes: ipv6Bytes(ip) } : { family: AF_INET, bytes: ipv4(ip) });

function ipText(family: number, b: Buffer, what: string): string {
  const size = family === AF_INET6 ? 16 : 4;
  if (b.length !== size) throw new MalformedReplyError(what, `an ${family === AF_INET6 ? 'IPv6' : 'IPv4'} address of ${b.length} bytes, not ${size}`);
  return family === AF_INET6 ? ipv6FromBytes(b) : [...b].join('.');
}

export function addressBody(cidr: string, index: number): Buffer {
  const [ip, prefix] = cidr.split('/');
  const { family, bytes } = ipBytes(ip!);
  // No duplicate address detection for the IPv6 addresses Sluice assigns: usable at once
  // (not "tentative" for a second), and no DAD timer per container; they are unique by
  // construction (each carries its container's IPv4 address).
  const flags = family === AF_INET6 ? IFA_F_NODAD : 0;
  return Buffer.concat([ifaddrmsg(family, Number(prefix), index, flags), attr(IFA.LOCAL, bytes), attr(IFA.ADDRESS, bytes)]);
}

/**
 * An IPv4 or IPv6 address. IPv6 addresses of narrower scope than universe are left out
 * unless assigned without DAD, as Sluice assigns its own: the link-local addresses the
 * kernel configures by itself (in a namespace Sluice attaches to) are not Sluice's.
 */
export function parseAddress(msg: Buffer): { index: number; cidr: string } | undefined {
  const end = readable(msg, 8, 'RTM_NEWADDR answer');
  const family = msg.readUInt8(NLMSG_HDRLEN);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const prefix = msg.readUInt8(NLMSG_HDRLEN + 1);
  const index = msg.readUInt32LE(NLMSG_HDRLEN + 4);
  const a = attrMap(msg, NLMSG_HDRLEN + 8, end);
  if (family === AF_INET6 && msg.readUInt8(NLMSG_HDRLEN + 3) !== RT_SCOPE.UNIVERSE) {
    const flags = readU32(a.get(IFA.FLAGS)) ?? msg.readUInt8(NLMSG_HDRLEN + 2);
    if ((flags & IFA_F_NODAD) === 0) return undefined;
  }
  const ip = a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS);
  return ip ? { index, cidr: `${ipText(family, ip, 'RTM_NEWADDR answer (IFA_LOCAL)')}/${prefix}` } : undefined;
}

/** Both families: a dual-stack container's IPv6 address is observed with its IPv4 one. */
export const addressDumpBody = (): Buffer => ifaddrmsg(AF_UNSPEC, 0, 0);

// ---------------------------------------------------------------- routes

function rtmsg(family: number, dstLen: number, protocol: number, scope: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(RT_TABLE_MAIN, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(RTN_UNICAST, 7);
  return b;
}

/** `dst` is "default" (IPv4), "::/0" (IPv6's default) or a CIDR. */
export function routeBody(dst: string, via: string | undefined, oif: number | undefined): Buffer {
  const [net, len] = dst === 'default' ? ['0.0.0.0', '0'] : dst.split('/');
  const family = ipBytes(net!).family;
  const attrs: Buffer[] = [];
  if (Number(len) > 0) attrs.push(attr(RTA.DST, ipBytes(net!).bytes));
  if (via) attrs.push(attr(RTA.GATEWAY, ipBytes(via).bytes));
  if (oif !== undefined) attrs.push(u32Attr(RTA.OIF, oif));
  return Buffer.concat([rtmsg(family, Number(len), RTPROT.BOOT, via ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK), ...attrs]);
}

export interface RouteInfo {
  readonly dst: string;
  readonly via?: string;
  readonly oif?: number;
}

/** Routes an operator (or Sluice) added; the kernel's own connected routes are left out. */
export function parseRoute(msg: Buffer): RouteInfo | undefined {
  const end = readable(msg, 12, 'RTM_NEWROUTE answer');
  const b = NLMSG_HDRLEN;
  const family = msg.readUInt8(b);
  if ((family !== AF_INET && family !== AF_INET6) || msg.readUInt8(b + 4) !== RT_TABLE_MAIN) return undefined;
  const protocol = msg.readUInt8(b + 5);
  if (protocol !== RTPROT.BOOT && protocol !== RTPROT.STATIC) return undefined;
  const dstLen = msg.readUInt8(b + 1);
  const a = attrMap(msg, b + 12, end);
  const dst = a.get(RTA.DST);
  const gw = a.get(RTA.GATEWAY);
  const oif = readU32(a.get(RTA.OIF));
  const v6 = family === AF_INET6;
  return {
    dst: dstLen === 0 ? (v6 ? '::/0' : 'default') : `${ipText(family, dst ?? Buffer.alloc(v6 ? 16 : 4), 'RTM_NEWROUTE answer (RTA_DST)')}/${dstLen}`,
    ...(gw ? { via: ipText(family, gw, 'RTM_NEWROUTE answer (RTA_GATEWAY)') } : {}),
    ...(oif !== undefined ? { oif } : {}),
  };
}

export const routeDumpBody = (): Buffer => rtmsg(AF_UNSPEC, 0, 0, 0);

// ---------------------------------------------------------------- tc

export interface TcHeader {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  readonly info: number;
}

export function tcmsg(h: TcHeader): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32LE(h.ifindex, 4);
  b.writeUInt32LE(h.handle >>> 0, 8);
  b.writeUInt32LE(h.parent >>> 0, 12);
  b.writeUInt32LE(h.info >>> 0, 16);
  return b;
}

export function tcBody(h: TcHeader, kind: string | undefined, options?: Buffer): Buffer {
  return Buffer.concat([tcmsg(h), ...(kind ? [stringAttr(TCA.KIND, kind)] : []), ...(options ? [options] : [])]);
}

export interface TcMessage extends TcHeader {
  readonly kind: string;
  readonly options?: Buffer;
  readonly stats2?: Buffer;
  readonly xstats?: Buffer;
}

// Read once: under a CommonJS transform each `TCA.X` in the loop below is a module getter call.
const { KIND: TCA_KIND, OPTIONS: TCA_OPTIONS, STATS2: TCA_STATS2, XSTATS: TCA_XSTATS } = TCA;

/** parseTc reads qdiscs, classes and filters alike: the message's own type says which, for an error. */
const TC_ANSWER = 'tc answer';
const TC_TYPES: Readonly<Record<number, string>> = { [RTM.NEWQDISC]: 'RTM_NEWQDISC', [RTM.NEWTCLASS]: 'RTM_NEWTCLASS', [RTM.NEWTFILTER]: 'RTM_NEWTFILTER' };
const tcAnswer = (msg: Buffer): string => `${(msg.length >= 6 ? TC_TYPES[msg.readUInt16LE(4)] : undefined) ?? 'RTM_NEW(QDISC|TCLASS|TFILTER)'} answer`;

export function parseTc(msg: Buffer): TcMessage | undefined {
  const b = NLMSG_HDRLEN;
  const end = readable(msg, 20, TC_ANSWER);
  // One pass over the attributes (the first of each type counts): a dump of 10,000
  // classes is 10,000 of these.
  let kind: string | undefined;
  let options: Buffer | undefined;
  let stats2: Buffer | undefined;
  let xstats: Buffer | undefined;
  for (let at = b + 20; at + 4 <= end; ) {
    const len = msg.readUInt16LE(at);
    if (len < 4 || at + len > end) break;
    switch (msg.readUInt16LE(at + 2) & NLA_TYPE_MASK) {
      case TCA_KIND:
        kind ??= readCString(msg, at + 4, at + len);
        break;
      case TCA_OPTIONS:
        options ??= msg.subarray(at + 4, at + len);
        break;
      case TCA_STATS2:
        stats2 ??= msg.subarray(at + 4, at + len);
        break;
      case TCA_XSTATS:
        xstats ??= msg.subarray(at + 4, at + len);
        break;
    }
    at += (len + 3) & ~3;
  }
  if (!kind) return undefined;
  // Optional fields assigned, not spread in: cheaper, and the same object (absent, not undefined).
  const m: { -readonly [K in keyof TcMessage]: TcMessage[K] } = { ifindex: msg.readInt32LE(b + 4), handle: msg.readUInt32LE(b + 8), parent: msg.readUInt32LE(b + 12), info: msg.readUInt32LE(b + 16), kind };
  if (options) m.options = options;
  if (stats2) m.stats2 = stats2;
  if (xstats) m.xstats = xstats;
  return m;
}

/** tcm_info of a filter: (prio << 16) | htons(protocol). */
export const filterInfo = (prio: number, protocol: number): number => ((prio << 16) | (((protocol & 0xff) << 8) | ((protocol >> 8) & 0xff))) >>> 0;
export const infoPrio = (info: number): number => info >>> 16;
export const infoProtocol = (info: number): number => ((info & 0xff) << 8) | ((info >> 8) & 0xff);
