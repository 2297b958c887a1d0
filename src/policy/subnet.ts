// IPv4 arithmetic for the container subnet; pure.

export interface Subnet {
  readonly network: number;
  readonly prefix: number;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
}

export function parseSubnet(cidr: string): Subnet {
  const [ip, prefixText] = cidr.split('/');
  const prefix = Number(prefixText);
  return { network: (ipToInt(ip ?? '0.0.0.0') & maskOf(prefix)) >>> 0, prefix };
}

export const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export const broadcastOf = (s: Subnet): number => (s.network | (~maskOf(s.prefix) >>> 0)) >>> 0;

/** A usable host address of the subnet (not the network or broadcast address). */
export function isHostAddress(s: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  if (((n & maskOf(s.prefix)) >>> 0) !== s.network) return false;
  return s.prefix >= 31 || (n !== s.network && n !== broadcastOf(s));
}

export const firstHost = (s: Subnet): string => intToIp(s.network + 1);

export const formatSubnet = (s: Subnet): string => `${intToIp(s.network)}/${s.prefix}`;
