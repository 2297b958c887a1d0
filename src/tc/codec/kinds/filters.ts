// Classifier option codecs: u32 (selectors, hash tables, links) and bpf (direct action).

import type { FilterSpec, U32Key } from '../../model';
import { asHandle } from '../../handle';
import { attr, attrMap, readU32, stringAttr, u32Attr } from '../attrs';
import { TC_U32_TERMINAL, TCA_BPF, TCA_BPF_FLAG_ACT_DIRECT, TCA_U32 } from '../constants';
import { decodeActions, encodeActions, type ActionContext, type ActionDecodeContext } from './actions';

type U32Spec = Extract<FilterSpec, { kind: 'u32' }>;
type BpfSpec = Extract<FilterSpec, { kind: 'bpf' }>;

export interface FilterEncodeContext extends ActionContext {
  bpfProgram(program: 'netcls-classid'): { readonly fd: number; readonly name: string };
}

// struct tc_u32_sel: flags, offshift, nkeys, pad, offmask(be16), off, offoff, hoff, hmask(be32); then keys.
const SEL_HEADER = 16;
const KEY_SIZE = 16;

function encodeSelector(spec: U32Spec): Buffer {
  const sel = Buffer.alloc(SEL_HEADER + KEY_SIZE * spec.keys.length);
  const terminal = spec.classid !== undefined || (spec.actions !== undefined && spec.actions.length > 0);
  sel.writeUInt8(terminal ? TC_U32_TERMINAL : 0, 0);
  sel.writeUInt8(spec.keys.length, 2);
  if (spec.hashKey) {
    sel.writeInt16LE(spec.hashKey.off, 10);
    sel.writeUInt32BE(spec.hashKey.mask >>> 0, 12);
  }
  spec.keys.forEach((k, i) => {
    const at = SEL_HEADER + i * KEY_SIZE;
    // mask and value are compared against the packet as is: network byte order.
    sel.writeUInt32BE(k.mask >>> 0, at);
    sel.writeUInt32BE((k.value & k.mask) >>> 0, at + 4);
    sel.writeInt32LE(k.off, at + 8);
    sel.writeInt32LE(k.offmask ?? 0, at + 12);
  });
  return sel;
}

function decodeKeys(sel: Buffer): U32Key[] {
  const n = sel.readUInt8(2);
  const keys: U32Key[] = [];
  for (let i = 0; i < n && SEL_HEADER + (i + 1) * KEY_SIZE <= sel.length; i++) {
    const at = SEL_HEADER + i * KEY_SIZE;
    const offmask = sel.readInt32LE(at + 12);
    keys.push({
      mask: sel.readUInt32BE(at),
      value: sel.readUInt32BE(at + 4),
      off: sel.readInt32LE(at + 8),
      ...(offmask !== 0 ? { offmask } : {}),
    });
  }
  return keys;
}

/** htid (12 bits) + bucket (8 bits) of a u32 handle: where a node goes. */
const U32_HTID_HASH_MASK = 0xfffff000;

export function encodeU32Options(spec: U32Spec, ctx: ActionContext, handle = 0): Buffer {
  if (spec.divisor !== undefined) return u32Attr(TCA_U32.DIVISOR, spec.divisor);
  const attrs: Buffer[] = [];
  // u32_change puts a node in the root table unless TCA_U32_HASH names another table
  // (and then refuses a handle whose htid disagrees), so name the handle's own bucket.
  const place = (handle & U32_HTID_HASH_MASK) >>> 0;
  if (place !== 0) attrs.push(u32Attr(TCA_U32.HASH, place));
  if (spec.classid !== undefined) attrs.push(u32Attr(TCA_U32.CLASSID, spec.classid));
  if (spec.link !== undefined) attrs.push(u32Attr(TCA_U32.LINK, spec.link));
  attrs.push(attr(TCA_U32.SEL, encodeSelector(spec)));
  if (spec.actions && spec.actions.length > 0) attrs.push(attr(TCA_U32.ACT, encodeActions(spec.actions, ctx)));
  return Buffer.concat(attrs);
}

export function decodeU32Options(options: Buffer | undefined, ctx: ActionDecodeContext): U32Spec {
  const a = options ? attrMap(options) : new Map<number, Buffer>();
  const divisor = readU32(a.get(TCA_U32.DIVISOR));
  if (divisor !== undefined) return { kind: 'u32', divisor, keys: [] };
  const sel = a.get(TCA_U32.SEL);
  const classid = readU32(a.get(TCA_U32.CLASSID));
  const link = readU32(a.get(TCA_U32.LINK));
  const hmask = sel && sel.length >= SEL_HEADER ? sel.readUInt32BE(12) : 0;
  const act = a.get(TCA_U32.ACT);
  const actions = act ? decodeActions(act, ctx) : [];
  return {
    kind: 'u32',
    keys: sel && sel.length >= SEL_HEADER ? decodeKeys(sel) : [],
    ...(link !== undefined ? { link } : {}),
    ...(hmask !== 0 && sel ? { hashKey: { mask: hmask, off: sel.readInt16LE(10) } } : {}),
    ...(classid !== undefined ? { classid: asHandle(classid) } : {}),
    ...(actions.length > 0 ? { actions } : {}),
  };
}

export function encodeBpfOptions(spec: BpfSpec, ctx: FilterEncodeContext): Buffer {
  const program = ctx.bpfProgram(spec.program);
  const attrs = [u32Attr(TCA_BPF.FD, program.fd), stringAttr(TCA_BPF.NAME, program.name)];
  if (spec.directAction) attrs.push(u32Attr(TCA_BPF.FLAGS, TCA_BPF_FLAG_ACT_DIRECT));
  if (spec.classid !== undefined) attrs.push(u32Attr(TCA_BPF.CLASSID, spec.classid));
  return Buffer.concat(attrs);
}

/** Sluice loads one bpf program only, so any bpf filter is the net_cls classid reader. */
export function decodeBpfOptions(options: Buffer | undefined): BpfSpec {
  const a = options ? attrMap(options) : new Map<number, Buffer>();
  const flags = readU32(a.get(TCA_BPF.FLAGS)) ?? 0;
  const classid = readU32(a.get(TCA_BPF.CLASSID));
  return {
    kind: 'bpf',
    program: 'netcls-classid',
    directAction: (flags & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    ...(classid !== undefined ? { classid: asHandle(classid) } : {}),
  };
}
