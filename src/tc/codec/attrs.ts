// Netlink attributes (struct nlattr: u16 len, u16 type, payload padded to 4 bytes), written
// and read without I/O, in host byte order (little-endian on every machine Sluice runs on).

const NLA_TYPE_MASK = 0x3fff;
export const NLA_F_NESTED = 0x8000;
export const align4 = (n: number): number => (n + 3) & ~3;

export interface Attr {
  readonly type: number;
  readonly payload: Buffer;
}

export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** tc's TCA_OPTIONS and action lists use old-style nesting (no NLA_F_NESTED); the kernel accepts both. */
export const nest = (type: number, children: readonly Buffer[]): Buffer => attr(type, Buffer.concat(children));

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

/** Attributes by type (a later duplicate wins). */
export function attrMap(buf: Buffer, offset = 0, end = buf.length): Map<number, Buffer> {
  return new Map(parseAttrs(buf, offset, end).map((a) => [a.type, a.payload]));
}

export const readString = (b: Buffer | undefined): string | undefined =>
  b === undefined ? undefined : b.toString('utf8').replace(/\0.*$/s, '');
export const readU32 = (b: Buffer | undefined): number | undefined => (b !== undefined && b.length >= 4 ? b.readUInt32LE(0) : undefined);
export const readU64 = (b: Buffer | undefined): number | undefined =>
  b !== undefined && b.length >= 8 ? Number(b.readBigUInt64LE(0)) : undefined;
