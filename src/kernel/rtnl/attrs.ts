// Netlink attributes (struct nlattr: u16 len, u16 type, payload padded to 4 bytes),
// written and read without I/O. Host byte order unless a field says network order.

export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;
const align4 = (n: number): number => (n + 3) & ~3;

export type Attr = { readonly type: number; readonly payload: Buffer };

export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export const nested = (type: number, children: readonly Buffer[]): Buffer => attr(type | NLA_F_NESTED, Buffer.concat(children));
/** Old-style nesting (no NLA_F_NESTED): what TCA_OPTIONS of most tc kinds expect. */
export const nestedPlain = (type: number, children: readonly Buffer[]): Buffer => attr(type, Buffer.concat(children));

export const u8Attr = (type: number, value: number): Buffer => attr(type, Buffer.from([value & 0xff]));

export function u32Attr(type: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return attr(type, b);
}

export function u64Attr(type: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(Math.round(value)), 0);
  return attr(type, b);
}

export const stringAttr = (type: number, value: string): Buffer => attr(type, Buffer.from(`${value}\0`, 'utf8'));

/** Every attribute in `buf` (later duplicates win in the map view). */
export function parseAttrs(buf: Buffer, offset = 0, end = buf.length): Attr[] {
  const out: Attr[] = [];
  let at = offset;
  while (at + 4 <= end) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > end) break;
    out.push({ type: buf.readUInt16LE(at + 2) & NLA_TYPE_MASK, payload: buf.subarray(at + 4, at + len) });
    at += align4(len);
  }
  return out;
}

/** One attribute's payload, found by scanning (no Map per message: dumps have tens of thousands). */
export function attrOf(buf: Buffer, type: number, offset = 0, end = buf.length): Buffer | undefined {
  let at = offset;
  while (at + 4 <= end) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > end) return undefined;
    if ((buf.readUInt16LE(at + 2) & NLA_TYPE_MASK) === type) return buf.subarray(at + 4, at + len);
    at += align4(len);
  }
  return undefined;
}

export function attrMap(buf: Buffer, offset = 0, end = buf.length): Map<number, Buffer> {
  return new Map(parseAttrs(buf, offset, end).map((a) => [a.type, a.payload]));
}

/** A NUL-terminated string attribute (the text before the first NUL). */
export const readString = (b: Buffer | undefined): string | undefined => (b ? readCString(b, 0, b.length) : undefined);

/** The NUL-terminated text in buf[start, end), read in place (no subarray). */
export function readCString(buf: Buffer, start: number, end: number): string {
  let nul = start;
  while (nul < end && buf[nul] !== 0) nul++;
  return buf.toString('utf8', start, nul);
}
export const readU32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
export const readU64 = (b: Buffer | undefined): number | undefined => (b && b.length >= 8 ? u64At(b, 0) : undefined);

/**
 * A little-endian u64 as a number, without a BigInt per read (dumps carry tens of
 * thousands of counters); the one rounding above 2^53 is the same as Number(bigint).
 */
export const u64At = (b: Buffer, at: number): number => b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
