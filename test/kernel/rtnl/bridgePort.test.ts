// A bridge port's isolation in rtnetlink: what Sluice sends is what it reads back.
import { describe, expect, it } from 'vitest';
import { nestedPlain, stringAttr, u32Attr } from '../../../src/kernel/rtnl/attrs';
import { IFLA, IFLA_INFO, RTM } from '../../../src/kernel/rtnl/constants';
import { frame, linkChangeBody, parseLink } from '../../../src/kernel/rtnl/messages';

/** A change request as the kernel would echo it, with a name (parseLink skips nameless links). */
const asDumped = (body: Buffer): Buffer => frame(RTM.NEWLINK, 0, 1, Buffer.concat([body, stringAttr(IFLA.IFNAME, 'sl-web'), u32Attr(IFLA.MTU, 1500)]));

describe('rtnetlink bridge ports', () => {
  it('isolation goes in IFLA_INFO_SLAVE_DATA of kind bridge, and reads back', () => {
    expect(parseLink(asDumped(linkChangeBody({ index: 7, isolated: true })))).toMatchObject({ index: 7, isolated: true });
    expect(parseLink(asDumped(linkChangeBody({ index: 7, isolated: false })))).toMatchObject({ isolated: false });
  });

  it('a device that is no bridge port has no isolation', () => {
    expect(parseLink(asDumped(linkChangeBody({ index: 7, up: true })))?.isolated).toBeUndefined();
    const bondPort = Buffer.concat([linkChangeBody({ index: 7 }), nestedPlain(IFLA.LINKINFO, [stringAttr(IFLA_INFO.SLAVE_KIND, 'bond'), nestedPlain(IFLA_INFO.SLAVE_DATA, [])])]);
    expect(parseLink(asDumped(bondPort))?.isolated).toBeUndefined();
  });
});
