// Branded numeric types: a rate meant in bytes, or a size meant in bits, is a compile error.
// Parse text ("100mbit") once at the edge (src/policy/rates.ts) and carry these inside.

declare const unitBrand: unique symbol;
type Branded<T, U extends string> = T & { readonly [unitBrand]: U };

/** A rate in bits per second (tc's `bit`). */
export type BitsPerSec = Branded<number, 'bit/s'>;
/** A size in bytes. */
export type Bytes = Branded<number, 'bytes'>;
/** A duration in seconds. */
export type Seconds = Branded<number, 's'>;

export const bitsPerSec = (n: number): BitsPerSec => n as BitsPerSec;
export const bytes = (n: number): Bytes => n as Bytes;
export const seconds = (n: number): Seconds => n as Seconds;

/** Bytes per second expressed as bits per second. */
export const bytesPerSecToBits = (bytesPerSec: number): BitsPerSec => bitsPerSec(bytesPerSec * 8);
/** Bits per second expressed as bytes per second (what the kernel's HTB uses). */
export const bitsToBytesPerSec = (rate: BitsPerSec): number => rate / 8;
