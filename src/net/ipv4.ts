// IPv4 arithmetic for the container subnet; pure.

export interface Subnet {
  readonly network: number;
  readonly prefix: number;
}

/** "198.18.0.10" → its 32-bit value. One character scan, no arrays: compile calls it per container. */
export function ipToInt(ip: string): number {
  let acc = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* . */) {
      acc = ((acc << 8) | octet) >>> 0;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return ((acc << 8) | octet) >>> 0;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
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
