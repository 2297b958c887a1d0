// tc handles are u32 "major:minor" pairs (16 bits each), printed in hex by tc.
// Build and split them here only; never with ad-hoc arithmetic elsewhere.

declare const handleBrand: unique symbol;
export type TcHandle = number & { readonly [handleBrand]: 'TcHandle' };

/** TC_H_ROOT: the parent of a root qdisc. */
export const TC_H_ROOT = 0xffffffff as TcHandle;
/** TC_H_INGRESS / TC_H_CLSACT: the parent of the ingress and clsact qdiscs. */
export const TC_H_INGRESS = 0xfffffff1 as TcHandle;
export const TC_H_CLSACT = TC_H_INGRESS;
/** Minor numbers selecting the ingress/egress hook of a clsact qdisc. */
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const TC_H_UNSPEC = 0 as TcHandle;

export function makeHandle(major: number, minor: number): TcHandle {
  if (!Number.isInteger(major) || major < 0 || major > 0xffff) throw new RangeError(`tc handle major ${major} is outside 0..0xffff`);
  if (!Number.isInteger(minor) || minor < 0 || minor > 0xffff) throw new RangeError(`tc handle minor ${minor} is outside 0..0xffff`);
  return (((major << 16) | minor) >>> 0) as TcHandle;
}

export const majorOf = (h: TcHandle): number => (h >>> 16) & 0xffff;
export const minorOf = (h: TcHandle): number => h & 0xffff;
export const asHandle = (n: number): TcHandle => (n >>> 0) as TcHandle;

/** tc's spelling: "1:a", "ffff:", "root". */
export function formatHandle(h: TcHandle): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_INGRESS) return 'ingress';
  const minor = minorOf(h);
  return `${majorOf(h).toString(16)}:${minor === 0 ? '' : minor.toString(16)}`;
}

export function parseHandle(text: string): TcHandle {
  if (text === 'root') return TC_H_ROOT;
  if (text === 'ingress') return TC_H_INGRESS;
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{0,4})$/i.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a tc handle (expected major:minor in hex, e.g. 1:a)`);
  return makeHandle(parseInt(m[1]!, 16), m[2] ? parseInt(m[2], 16) : 0);
}
