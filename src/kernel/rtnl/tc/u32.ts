// The u32 classifier (cls_u32): struct tc_u32_sel and its tc_u32_key array, from pkt_cls.h.
// Match values and masks are in network order, as the header's __be32 says.

import { asHandle } from '../../../tc/handle';
import type { FilterSpec, U32Key } from '../../../tc/model';
import { attr, nestedPlain, NLA_TYPE_MASK, u32Attr } from '../attrs';
import { TC_U32_TERMINAL, TCA, TCA_U32 } from '../constants';
import { decodeActions, encodeActions } from './actions';
import { isDecodeError, malformed, type FilterCodec } from './codec';
import { be16, be32, layout, s16, s32, u16, u8 } from './layout';

export const TC_U32_SEL = layout('tc_u32_sel', 16, { flags: u8(0), offshift: u8(1), nkeys: u8(2), offmask: be16(4), off: u16(6), offoff: s16(8), hoff: s16(10), hmask: be32(12) });
export const TC_U32_KEY = layout('tc_u32_key', 16, { mask: be32(0), val: be32(4), off: s32(8), offmask: s32(12) });

type U32Spec = Extract<FilterSpec, { kind: 'u32' }>;

/** The root hash table every u32 instance has ("800:"): entries in it need no TCA_U32_HASH. */
const ROOT_TABLE = 0x800;

function encodeSelector(keys: readonly U32Key[], terminal: boolean, hashKey?: { mask: number; off: number }): Buffer {
  const head = TC_U32_SEL.encode({ flags: terminal ? TC_U32_TERMINAL : 0, nkeys: keys.length, ...(hashKey ? { hmask: hashKey.mask, hoff: hashKey.off } : {}) });
  return Buffer.concat([head, ...keys.map((k) => TC_U32_KEY.encode({ mask: k.mask, val: (k.value & k.mask) >>> 0, off: k.off, offmask: k.offmask ?? 0 }))]);
}

function decodeSelector(sel: Buffer): { keys: U32Key[]; hashKey?: { mask: number; off: number } } {
  const n = TC_U32_SEL.read(sel, 'nkeys');
  const keys: U32Key[] = [];
  for (let i = 0, at = TC_U32_SEL.size; i < n && TC_U32_KEY.fits(sel, at); i++, at += TC_U32_KEY.size) {
    const offmask = TC_U32_KEY.read(sel, 'offmask', at);
    keys.push({ mask: TC_U32_KEY.read(sel, 'mask', at), value: TC_U32_KEY.read(sel, 'val', at), off: TC_U32_KEY.read(sel, 'off', at), ...(offmask ? { offmask } : {}) });
  }
  const hmask = TC_U32_SEL.read(sel, 'hmask');
  return { keys, ...(hmask ? { hashKey: { mask: hmask, off: TC_U32_SEL.read(sel, 'hoff') } } : {}) };
}

const { DIVISOR, SEL, CLASSID, LINK, ACT } = TCA_U32;

export const u32Filter: FilterCodec<U32Spec> = {
  encode: (spec, handle, ctx) => {
    if (spec.divisor !== undefined) return nestedPlain(TCA.OPTIONS, [u32Attr(DIVISOR, spec.divisor)]);
    const terminal = spec.classid !== undefined || (spec.actions?.length ?? 0) > 0;
    const parts = [attr(SEL, encodeSelector(spec.keys, terminal, spec.hashKey))];
    // The table and bucket the entry goes in.
    if (handle >>> 20 !== ROOT_TABLE) parts.push(u32Attr(TCA_U32.HASH, (handle & 0xfffff000) >>> 0));
    if (spec.classid !== undefined) parts.push(u32Attr(CLASSID, spec.classid));
    if (spec.link !== undefined) parts.push(u32Attr(LINK, spec.link));
    if (spec.actions?.length) parts.push(encodeActions(spec.actions, ctx, ACT));
    return nestedPlain(TCA.OPTIONS, parts);
  },
  // One pass over the attributes (a dump holds one filter per container and direction),
  // the last of a repeated attribute winning.
  decode: (options, ctx) => {
    if (!options) return malformed('filter', 'u32', 'no TCA_OPTIONS');
    let divisor: number | undefined;
    let sel: Buffer | undefined;
    let classid: number | undefined;
    let link: number | undefined;
    let act: Buffer | undefined;
    const end = options.length;
    for (let at = 0; at + 4 <= end; ) {
      const len = options.readUInt16LE(at);
      if (len < 4 || at + len > end) break;
      const type = options.readUInt16LE(at + 2) & NLA_TYPE_MASK;
      const u32 = len - 4 >= 4 ? options.readUInt32LE(at + 4) : undefined;
      if (type === DIVISOR) divisor = u32;
      else if (type === SEL) sel = options.subarray(at + 4, at + len);
      else if (type === CLASSID) classid = u32;
      else if (type === LINK) link = u32;
      else if (type === ACT) act = options.subarray(at + 4, at + len);
      at += (len + 3) & ~3;
    }
    if (divisor !== undefined) return { kind: 'u32', divisor, keys: [] };
    if (!sel || !TC_U32_SEL.fits(sel)) return malformed('filter', 'u32', 'neither a hash table (TCA_U32_DIVISOR) nor a selector (struct tc_u32_sel)');
    const { keys, hashKey } = decodeSelector(sel);
    const actions = act ? decodeActions(act, ctx) : [];
    if (isDecodeError(actions)) return actions;
    return {
      kind: 'u32',
      keys,
      ...(link !== undefined ? { link, ...(hashKey ? { hashKey } : {}) } : {}),
      ...(classid !== undefined ? { classid: asHandle(classid) } : {}),
      ...(actions.length ? { actions } : {}),
    };
  },
};
