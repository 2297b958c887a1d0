import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, embedIpv4, inSubnet6, ipv6Bytes, ipv6FromBytes, parseSubnet6 } from '../../src/net/ipv6';

describe('IPv6 text', () => {
  it('is canonical as RFC 5952 writes it (what the kernel port decodes)', () => {
    expect(canonicalIpv6('2001:0DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIpv6('2001:2::198.18.0.10')).toBe('2001:2::c612:a');
    expect(canonicalIpv6('::')).toBe('::');
    expect(canonicalIpv6('fe80::1')).toBe('fe80::1');
    expect(canonicalIpv6('1:2:3:4:5:6:7:8')).toBe('1:2:3:4:5:6:7:8');
    expect(canonicalIpv6('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['1::2::3', '198.18.0.1', '12345::', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9']) expect(canonicalIpv6(bad)).toBeUndefined();
  });

  it("agrees with node:net on what is an address", () => {
    const texts = [':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '::', '1::', ':::', '1:::2', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7::', '1:2:3:4::5:6:7:8', 'g::1', '1::2:', ':', '', 'a:b:c:d:e:f:0:1', '::ffff:1.2.3.4', '::1.2.3'];
    for (const t of texts) expect([t, canonicalIpv6(t) !== undefined]).toEqual([t, isIPv6(t)]);
  });

  it('round-trips through the 16 bytes netlink carries', () => {
    expect(ipv6FromBytes(ipv6Bytes('2001:2::c612:a'))).toBe('2001:2::c612:a');
  });

  it('embeds an IPv4 address in the low 32 bits of a prefix', () => {
    const s = parseSubnet6('2001:2::/64')!;
    expect(embedIpv4(s, 0xc612000a)).toBe('2001:2::c612:a');
    expect(inSubnet6(s, '2001:2::c612:a')).toBe(true);
    expect(inSubnet6(s, '2001:2:0:ff::2')).toBe(false);
  });
});
