// IPv6 arithmetic for dual-stack containers; pure. Addresses travel as canonical text
// (RFC 5952: lower case, the longest run of zero groups as "::"), the form the kernel
// port decodes them to, so desired and observed address objects compare as strings.

/** An IPv6 address as four 32-bit words, most significant first (network order). */
export type Ipv6Words = readonly [number, number, number, number];

export interface Subnet6 {
  readonly words: Ipv6Words;
  readonly prefix: number;
}

export const isIpv6 = (text: string): boolean => text.includes(':');

/** The eight 16-bit groups of `text`, or undefined if it is not an IPv6 address. */
function groupsOf(text: string): number[] | undefined {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  // An embedded dotted quad ("::ffff:198.18.0.1", "2001:2::198.18.0.10") is two groups.
  if (body.indexOf('.', lastColon) > 0) {
    const quad = body.slice(lastColon + 1).split('.');
    if (quad.length !== 4 || quad.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return undefined;
    const [a, b, c, d] = quad.map(Number) as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest];
}

/** Scratch groups for parsePlainInto: one array for every parse, not one per address. */
const scratch = new Uint32Array(8);

/**
 * Writes the four words of a plain address (hex groups, at most one "::", no dotted
 * quad) to `out` at `at`, in one character scan without regular expressions, substrings
 * or arrays: a dual-stack compile parses one address per container. False: not plain
 * (or not an address), `out` untouched.
 */
export function parsePlainIpv6Into(text: string, out: Uint32Array, at: number): boolean {
  let count = 0;
  let gapAt = -1;
  let group = 0;
  let digits = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const hex = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (hex >= 0) {
      if (++digits > 4) return false;
      group = (group << 4) | hex;
      continue;
    }
    if (c !== 58 /* : */) return false;
    if (digits > 0) {
      if (count === 8) return false;
      scratch[count++] = group;
    }
    if (i + 1 < n && text.charCodeAt(i + 1) === 58) {
      // "::": once, and not ":::".
      if (gapAt >= 0 || (i + 2 < n && text.charCodeAt(i + 2) === 58)) return false;
      gapAt = count;
      i++;
    } else if (digits === 0) return false; // a lone ":" comes after a group
    group = 0;
    digits = 0;
  }
  if (digits > 0) {
    if (count === 8) return false;
    scratch[count++] = group;
  } else if (!(gapAt === count && n >= 2 && text.charCodeAt(n - 1) === 58 && text.charCodeAt(n - 2) === 58)) return false;
  if (gapAt < 0 ? count !== 8 : count > 7) return false;
  // Groups after the gap move to the end; the gap is zeros.
  const after = gapAt < 0 ? 0 : count - gapAt;
  const groups = (k: number): number => (gapAt < 0 || k < gapAt ? scratch[k]! : k >= 8 - after ? scratch[k - (8 - count)]! : 0);
  for (let w = 0; w < 4; w++) out[at + w] = ((groups(2 * w) << 16) | groups(2 * w + 1)) >>> 0;
  return true;
}

export function parseIpv6(text: string): Ipv6Words | undefined {
  if (!text.includes('.')) {
    const w = new Uint32Array(4);
    return parsePlainIpv6Into(text, w, 0) ? [w[0]!, w[1]!, w[2]!, w[3]!] : undefined;
  }
  const g = groupsOf(text);
  if (!g) return undefined;
  const w = (i: number): number => ((g[i]! << 16) | g[i + 1]!) >>> 0;
  return [w(0), w(2), w(4), w(6)];
}

/** RFC 5952 text of `words`. */
export function formatIpv6(words: Ipv6Words): string {
  const groups: number[] = [];
  for (const w of words) groups.push(w >>> 16, w & 0xffff);
  // The longest run of two or more zero groups (the first of equal runs) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** The canonical text of an IPv6 address given in any valid form; undefined if invalid. */
export function canonicalIpv6(text: string): string | undefined {
  const w = parseIpv6(text);
  return w ? formatIpv6(w) : undefined;
}

/** The 16 bytes of an address (what netlink carries). */
export function ipv6Bytes(text: string): Buffer {
  const w = parseIpv6(text);
  if (!w) throw new RangeError(`"${text}" is not an IPv6 address`);
  const b = Buffer.alloc(16);
  w.forEach((x, i) => b.writeUInt32BE(x, i * 4));
  return b;
}

export function ipv6FromBytes(b: Buffer): string {
  return formatIpv6([b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12)]);
}

const wordMask = (prefix: number, word: number): number => {
  const bits = Math.max(0, Math.min(32, prefix - word * 32));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
};

export function parseSubnet6(cidr: string): Subnet6 | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const words = parseIpv6(cidr.slice(0, slash));
  const prefix = Number(cidr.slice(slash + 1));
  if (!words || !Number.isInteger(prefix) || prefix < 0 || prefix > 128) return undefined;
  return { words: words.map((w, i) => (w & wordMask(prefix, i)) >>> 0) as unknown as Ipv6Words, prefix };
}

export function inSubnet6(s: Subnet6, address: string): boolean {
  const w = parseIpv6(address);
  return !!w && w.every((x, i) => ((x & wordMask(s.prefix, i)) >>> 0) === s.words[i]);
}

/**
 * The longest prefix that leaves the low 32 bits to an IPv4 address: a dual-stack
 * container's IPv6 address is the Host's IPv6 prefix with its IPv4 address as those bits.
 */
export const MAX_EMBEDDING_PREFIX = 96;

/** `subnet6` with `ipv4` (a 32-bit value) as its last word, as canonical text. */
export function embedIpv4(s: Subnet6, ipv4: number): string {
  // With both halves of the IPv4 address nonzero (any usable 198.18.x.y), the text is
  // the prefix's, made once per subnet, and the two last groups: no formatting per container.
  if (ipv4 >>> 16 !== 0 && (ipv4 & 0xffff) !== 0) return `${headOf(s)}${(ipv4 >>> 16).toString(16)}:${(ipv4 & 0xffff).toString(16)}`;
  return formatIpv6([s.words[0], s.words[1], s.words[2], ipv4 >>> 0]);
}

const heads = new WeakMap<Subnet6, string>();

/** The canonical text of `s` up to its last two groups, when those are nonzero. */
function headOf(s: Subnet6): string {
  let head = heads.get(s);
  if (head === undefined) {
    head = formatIpv6([s.words[0], s.words[1], s.words[2], 0x00010001]).slice(0, -3);
    heads.set(s, head);
  }
  return head;
}
