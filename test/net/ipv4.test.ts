import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intToIp, ipToInt, parseSubnet } from '../../src/net/ipv4';

describe('IPv4 addresses as numbers', () => {
  it('round-trips every address', () => {
    fc.assert(fc.property(fc.ipV4(), (ip) => intToIp(ipToInt(ip)) === ip));
    expect(ipToInt('198.18.0.10')).toBe(0xc612000a);
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(parseSubnet('198.18.64.0/24')).toEqual({ network: 0xc6124000, prefix: 24 });
  });
});
