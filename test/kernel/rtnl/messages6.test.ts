// IPv6 addresses and routes in rtnetlink messages: what Sluice sends reads back the same.
import { describe, expect, it } from 'vitest';
import { AF_INET6, IFA_F_NODAD, RTM, RT_SCOPE } from '../../../src/kernel/rtnl/constants';
import { addressBody, frame, parseAddress, parseRoute, routeBody } from '../../../src/kernel/rtnl/messages';

describe('rtnetlink IPv6 addresses and routes', () => {
  it('an IPv6 address is sent without DAD and reads back canonical', () => {
    const body = addressBody('2001:2::c612:a/64', 7);
    expect([body.readUInt8(0), body.readUInt8(1), body.readUInt8(2)]).toEqual([AF_INET6, 64, IFA_F_NODAD]);
    expect(parseAddress(frame(RTM.NEWADDR, 0, 1, body))).toEqual({ index: 7, cidr: '2001:2::c612:a/64' });
  });

  it("a link-local address is Sluice's only when it was assigned without DAD", () => {
    const ours = addressBody('fe80::1/64', 3);
    ours.writeUInt8(RT_SCOPE.LINK, 3);
    expect(parseAddress(frame(RTM.NEWADDR, 0, 1, ours))?.cidr).toBe('fe80::1/64');
    const kernels = addressBody('fe80::5054:ff:fe12:3456/64', 3);
    kernels.writeUInt8(RT_SCOPE.LINK, 3);
    kernels.writeUInt8(0, 2);
    expect(parseAddress(frame(RTM.NEWADDR, 0, 1, kernels))).toBeUndefined();
  });

  it('the IPv6 default route is ::/0 (apart from IPv4 "default"), via a global gateway', () => {
    const body = routeBody('::/0', '2001:2::c612:1', 4);
    expect(body.readUInt8(0)).toBe(AF_INET6);
    expect(parseRoute(frame(RTM.NEWROUTE, 0, 1, body))).toEqual({ dst: '::/0', via: '2001:2::c612:1', oif: 4 });
    expect(parseRoute(frame(RTM.NEWROUTE, 0, 1, routeBody('2001:2::/64', '2001:2:0:ff::1', undefined)))).toEqual({ dst: '2001:2::/64', via: '2001:2:0:ff::1' });
    expect(parseRoute(frame(RTM.NEWROUTE, 0, 1, routeBody('default', '198.18.0.1', 4)))).toEqual({ dst: 'default', via: '198.18.0.1', oif: 4 });
  });
});
