import { describe, expect, it } from 'vitest';
import { attr, attrMap, readString, readU32 } from '../../../src/tc/codec/attrs';
import {
  addressBody, frame, IFLA, IFLA_INFO, linkBody, NLM_F, NLMSG, parseAddress, parseError, parseLink, parseReply, parseRoute, routeBody, VETH_INFO_PEER,
} from '../../../src/kernel/netlink/messages';

describe('rtnetlink messages', () => {
  it('a veth request carries its peer name and namespace fd inside VETH_INFO_PEER', () => {
    const body = linkBody({ name: 'sl-a', up: true, mtu: 1400, kind: 'veth', peer: { name: 'sl-b', netnsFd: 17 } });
    const link = parseLink(body);
    expect(link).toMatchObject({ name: 'sl-a', up: true, mtu: 1400, kind: 'veth' });
    const info = attrMap(attrMap(body, 16).get(IFLA.LINKINFO)!);
    const peer = attrMap(attrMap(info.get(IFLA_INFO.DATA)!).get(VETH_INFO_PEER)!, 16);
    expect(readString(peer.get(IFLA.IFNAME))).toBe('sl-b');
    expect(readU32(peer.get(IFLA.NET_NS_FD))).toBe(17);
  });
  it('addresses and routes round-trip', () => {
    expect(parseAddress(addressBody(3, '198.18.11.2/24'))).toEqual({ index: 3, cidr: '198.18.11.2/24' });
    expect(parseRoute(routeBody('default', '198.18.11.1', 4))).toEqual({ dst: 'default', via: '198.18.11.1', oif: 4 });
    expect(parseRoute(routeBody('198.18.12.0/24', undefined, 4))).toEqual({ dst: '198.18.12.0/24', oif: 4 });
  });
  it('reads errno and the extended-ack message of a capped NLMSG_ERROR', () => {
    const err = Buffer.alloc(4 + 16);
    err.writeInt32LE(-17, 0);
    err.writeUInt32LE(40, 4);
    const msg = frame(NLMSG.ERROR, NLM_F.CAPPED | NLM_F.ACK_TLVS, 9, Buffer.concat([err, attr(1, Buffer.from('Exclusivity flag on\0'))]));
    const reply = parseReply(msg);
    expect(reply.seq).toBe(9);
    expect(parseError(reply)).toEqual({ errno: 17, message: 'Exclusivity flag on' });
  });
});
