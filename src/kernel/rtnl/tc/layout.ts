// Named layouts of the kernel's fixed-size structs (pkt_sched.h, pkt_cls.h, tc_act/*.h,
// gen_stats.h): each field by name, with its offset and type as the header declares
// them, so a codec reads `opt.read(buf, 'cbuffer')`, never `buf.readUInt32LE(28)`. Host
// byte order (little-endian here) except the fields the header marks __be.

export type FieldType = 'u8' | 'u16' | 's16' | 'be16' | 'u32' | 's32' | 'be32' | 'u64';

export interface Field {
  readonly at: number;
  readonly type: FieldType;
}

const SIZE: Readonly<Record<FieldType, number>> = { u8: 1, u16: 2, s16: 2, be16: 2, u32: 4, s32: 4, be32: 4, u64: 8 };

export const u8 = (at: number): Field => ({ at, type: 'u8' });
export const u16 = (at: number): Field => ({ at, type: 'u16' });
export const s16 = (at: number): Field => ({ at, type: 's16' });
export const be16 = (at: number): Field => ({ at, type: 'be16' });
export const u32 = (at: number): Field => ({ at, type: 'u32' });
export const s32 = (at: number): Field => ({ at, type: 's32' });
export const be32 = (at: number): Field => ({ at, type: 'be32' });
export const u64 = (at: number): Field => ({ at, type: 'u64' });

export interface Layout<F extends string> {
  /** The C struct's name, for messages. */
  readonly name: string;
  /** sizeof(struct …). */
  readonly size: number;
  readonly fields: Readonly<Record<F, Field>>;
  /** Whether `buf` holds the whole struct from `base`. */
  fits(buf: Buffer, base?: number): boolean;
  read(buf: Buffer, field: F, base?: number): number;
  write(buf: Buffer, field: F, value: number, base?: number): void;
  /** The struct with the fields given, zero elsewhere (the kernel reads zero as "unset"). */
  encode(values: Partial<Record<F, number>>): Buffer;
  /** Every field of the struct at `base`. */
  decode(buf: Buffer, base?: number): Record<F, number>;
}

/** Another struct's fields placed at `at` inside this one, named `<prefix>.<field>`. */
export function embed<P extends string, F extends string>(prefix: P, inner: Layout<F>, at: number): Record<`${P}.${F}`, Field> {
  const out = {} as Record<`${P}.${F}`, Field>;
  for (const [name, f] of Object.entries(inner.fields) as [F, Field][]) out[`${prefix}.${name}`] = { at: at + f.at, type: f.type };
  return out;
}

export function layout<F extends string>(name: string, size: number, fields: Record<F, Field>): Layout<F> {
  const entries = Object.entries(fields) as [F, Field][];
  for (const [field, f] of entries) {
    if (f.at < 0 || f.at + SIZE[f.type] > size) throw new RangeError(`struct ${name}: field ${field} (${f.type} at ${f.at}) lies outside its ${size} bytes`);
  }
  return {
    name,
    size,
    fields,
    fits: (buf, base = 0) => base + size <= buf.length,
    read: (buf, field, base = 0) => readField(buf, fields[field], base),
    write: (buf, field, value, base = 0) => writeField(buf, fields[field], value, base),
    encode: (values) => {
      const buf = Buffer.alloc(size);
      for (const [field, value] of Object.entries(values) as [F, number | undefined][]) if (value !== undefined) writeField(buf, fields[field], value, 0);
      return buf;
    },
    decode: (buf, base = 0) => {
      const out = {} as Record<F, number>;
      for (const [field, f] of entries) out[field] = readField(buf, f, base);
      return out;
    },
  };
}

function readField(buf: Buffer, f: Field, base: number): number {
  const at = base + f.at;
  switch (f.type) {
    case 'u8':
      return buf.readUInt8(at);
    case 'u16':
      return buf.readUInt16LE(at);
    case 's16':
      return buf.readInt16LE(at);
    case 'be16':
      return buf.readUInt16BE(at);
    case 'u32':
      return buf.readUInt32LE(at);
    case 's32':
      return buf.readInt32LE(at);
    case 'be32':
      return buf.readUInt32BE(at);
    case 'u64':
      // Without a BigInt per read; the one rounding above 2^53 is Number(bigint)'s.
      return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
  }
}

function writeField(buf: Buffer, f: Field, value: number, base: number): void {
  const at = base + f.at;
  switch (f.type) {
    case 'u8':
      buf.writeUInt8(value, at);
      return;
    case 'u16':
      buf.writeUInt16LE(value, at);
      return;
    case 's16':
      buf.writeInt16LE(value, at);
      return;
    case 'be16':
      buf.writeUInt16BE(value, at);
      return;
    case 'u32':
      buf.writeUInt32LE(value >>> 0, at);
      return;
    case 's32':
      buf.writeInt32LE(value, at);
      return;
    case 'be32':
      buf.writeUInt32BE(value >>> 0, at);
      return;
    case 'u64':
      buf.writeBigUInt64LE(BigInt(Math.round(value)), at);
      return;
  }
}
