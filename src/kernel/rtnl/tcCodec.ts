// tc objects ⇄ the attributes of an RTM_*QDISC/TCLASS/TFILTER message: one codec per
// kind, in one table per object type, so adding a kind touches one place. Pure.

import { asHandle, type TcHandle } from '../../tc/handle';
import {
  assertNever,
  type ActionSpec,
  type FilterSpec,
  type HtbClassSpec,
  type HtbXstats,
  type QdiscSpec,
  type TcCounters,
  type U32Key,
} from '../../tc/model';
import { bitsPerSec, bytes } from '../../units/units';
import { attr, attrMap, attrOf, NLA_TYPE_MASK, nestedPlain, parseAttrs, readString, readU32, readU64, stringAttr, u32Attr, u64At, u64Attr } from './attrs';
import {
  NS_PER_TICK,
  TC_ACT,
  TC_HTB_PROTOVER,
  TC_LINKLAYER_ETHERNET,
  TC_U32_TERMINAL,
  TCA,
  TCA_ACT,
  TCA_BPF,
  TCA_BPF_FLAG_ACT_DIRECT,
  TCA_EGRESS_MIRROR,
  TCA_EGRESS_REDIR,
  TCA_GACT_PARMS,
  TCA_HTB,
  TCA_MIRRED_PARMS,
  TCA_STATS,
  TCA_U32,
} from './constants';

/** What encoding needs from the world. */
export interface TcEncodeContext {
  ifindexOf(dev: string): number;
  bpfProgram(program: 'netcls-classid'): { readonly fd: number; readonly name: string };
}

export interface TcDecodeContext {
  devOf(ifindex: number): string | undefined;
}

export class UnsupportedKindError extends Error {}

// ---------------------------------------------------------------- qdiscs

/** The TCA_KIND and TCA_OPTIONS of a qdisc. */
export function encodeQdiscOptions(spec: QdiscSpec): { kind: string; options?: Buffer } {
  switch (spec.kind) {
    case 'htb': {
      const glob = Buffer.alloc(20);
      glob.writeUInt32LE(TC_HTB_PROTOVER, 0);
      glob.writeUInt32LE(spec.r2q, 4);
      glob.writeUInt32LE(spec.defaultMinor, 8);
      const parts = [attr(TCA_HTB.INIT, glob)];
      if (spec.directQlen !== undefined) parts.push(u32Attr(TCA_HTB.DIRECT_QLEN, spec.directQlen));
      return { kind: 'htb', options: nestedPlain(TCA.OPTIONS, parts) };
    }
    case 'pfifo':
    case 'bfifo': {
      const limit = Buffer.alloc(4);
      limit.writeUInt32LE(spec.kind === 'pfifo' ? spec.limitPackets : spec.limitBytes, 0);
      return { kind: spec.kind, options: attr(TCA.OPTIONS, limit) };
    }
    case 'ingress':
    case 'clsact':
    case 'fq_codel':
      return { kind: spec.kind };
    case 'sfq': {
      // struct tc_sfq_qopt: quantum, perturb_period, limit, divisor, flows.
      const q = Buffer.alloc(20);
      q.writeInt32LE(spec.perturbSec, 4);
      return { kind: 'sfq', options: attr(TCA.OPTIONS, q) };
    }
    case 'tbf':
      throw new UnsupportedKindError('tbf qdiscs are modelled but not encoded yet');
    default:
      return assertNever(spec);
  }
}

export function decodeQdiscOptions(kind: string, options: Buffer | undefined): QdiscSpec | undefined {
  switch (kind) {
    case 'htb': {
      const glob = options ? attrMap(options).get(TCA_HTB.INIT) : undefined;
      if (!glob) return undefined;
      const qlen = readU32(options ? attrMap(options).get(TCA_HTB.DIRECT_QLEN) : undefined);
      return { kind: 'htb', r2q: glob.readUInt32LE(4), defaultMinor: glob.readUInt32LE(8), ...(qlen !== undefined && qlen !== 1000 ? { directQlen: qlen } : {}) };
    }
    case 'pfifo':
      return { kind: 'pfifo', limitPackets: options?.readUInt32LE(0) ?? 0 };
    case 'bfifo':
      return { kind: 'bfifo', limitBytes: bytes(options?.readUInt32LE(0) ?? 0) };
    case 'ingress':
    case 'clsact':
    case 'fq_codel':
      return { kind };
    case 'sfq':
      return { kind: 'sfq', perturbSec: options ? options.readInt32LE(4) : 0 };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- HTB classes

const U32_MAX = 0xffffffff;

/** struct tc_ratespec for `bytesPerSec`; above 32 bits the u64 attribute carries it. */
function ratespec(bytesPerSec: number): Buffer {
  const b = Buffer.alloc(12);
  // A link layer set means "no rate table needed" to the kernel (no legacy RTAB).
  b.writeUInt8(TC_LINKLAYER_ETHERNET, 1);
  b.writeUInt32LE(Math.min(bytesPerSec, U32_MAX), 8);
  return b;
}

/** Bytes sent at `bytesPerSec` ⇄ scheduler ticks (HTB keeps burst as time). */
export const bytesToTicks = (size: number, bytesPerSec: number): number => Math.round((size * 1e9) / bytesPerSec / NS_PER_TICK);
export const ticksToBytes = (ticks: number, bytesPerSec: number): number => Math.round((ticks * NS_PER_TICK * bytesPerSec) / 1e9);

export function encodeHtbClass(spec: HtbClassSpec): Buffer {
  const rate = Math.round(spec.rate / 8);
  const ceil = Math.round(spec.ceil / 8);
  const opt = Buffer.alloc(44);
  ratespec(rate).copy(opt, 0);
  ratespec(ceil).copy(opt, 12);
  opt.writeUInt32LE(bytesToTicks(spec.burst, rate), 24);
  opt.writeUInt32LE(bytesToTicks(spec.cburst, ceil), 28);
  opt.writeUInt32LE(spec.quantum, 32);
  opt.writeUInt32LE(spec.prio, 40);
  const parts = [attr(TCA_HTB.PARMS, opt)];
  if (rate >= U32_MAX) parts.push(u64Attr(TCA_HTB.RATE64, rate));
  if (ceil >= U32_MAX) parts.push(u64Attr(TCA_HTB.CEIL64, ceil));
  return nestedPlain(TCA.OPTIONS, parts);
}

export function decodeHtbClass(options: Buffer | undefined): HtbClassSpec | undefined {
  if (!options) return undefined;
  const opt = attrOf(options, TCA_HTB.PARMS);
  if (!opt || opt.length < 44) return undefined;
  const rate = readU64(attrOf(options, TCA_HTB.RATE64)) ?? opt.readUInt32LE(8);
  const ceil = readU64(attrOf(options, TCA_HTB.CEIL64)) ?? opt.readUInt32LE(20);
  return {
    kind: 'htb',
    rate: bitsPerSec(rate * 8),
    ceil: bitsPerSec(ceil * 8),
    burst: bytes(ticksToBytes(opt.readUInt32LE(24), rate)),
    cburst: bytes(ticksToBytes(opt.readUInt32LE(28), ceil)),
    quantum: bytes(opt.readUInt32LE(32)),
    prio: opt.readUInt32LE(40),
  };
}

// ---------------------------------------------------------------- filters

const ACTION_ORDER_FIRST = 1;

function encodeAction(a: ActionSpec, ctx: TcEncodeContext, order: number): Buffer {
  switch (a.kind) {
    case 'mirred': {
      const p = Buffer.alloc(28);
      const redirect = a.action === 'egress-redirect';
      p.writeInt32LE(redirect ? TC_ACT.STOLEN : TC_ACT.PIPE, 8);
      p.writeInt32LE(redirect ? TCA_EGRESS_REDIR : TCA_EGRESS_MIRROR, 20);
      p.writeUInt32LE(ctx.ifindexOf(a.targetDev), 24);
      return nestedPlain(order, [stringAttr(TCA_ACT.KIND, 'mirred'), nestedPlain(TCA_ACT.OPTIONS, [attr(TCA_MIRRED_PARMS, p)])]);
    }
    case 'gact': {
      const p = Buffer.alloc(20);
      p.writeInt32LE(a.action === 'ok' ? TC_ACT.OK : a.action === 'drop' ? TC_ACT.SHOT : TC_ACT.PIPE, 8);
      return nestedPlain(order, [stringAttr(TCA_ACT.KIND, 'gact'), nestedPlain(TCA_ACT.OPTIONS, [attr(TCA_GACT_PARMS, p)])]);
    }
    default:
      return assertNever(a);
  }
}

function decodeAction(payload: Buffer, ctx: TcDecodeContext): ActionSpec | undefined {
  const a = attrMap(payload);
  const kind = readString(a.get(TCA_ACT.KIND));
  const opts = a.get(TCA_ACT.OPTIONS);
  if (!opts) return undefined;
  if (kind === 'mirred') {
    const p = attrMap(opts).get(TCA_MIRRED_PARMS);
    if (!p) return undefined;
    const target = ctx.devOf(p.readUInt32LE(24)) ?? `ifindex:${p.readUInt32LE(24)}`;
    return { kind: 'mirred', action: p.readInt32LE(20) === TCA_EGRESS_REDIR ? 'egress-redirect' : 'egress-mirror', targetDev: target };
  }
  if (kind === 'gact') {
    const p = attrMap(opts).get(TCA_GACT_PARMS);
    const action = p?.readInt32LE(8);
    return { kind: 'gact', action: action === TC_ACT.OK ? 'ok' : action === TC_ACT.SHOT ? 'drop' : 'pipe' };
  }
  return undefined;
}

/** struct tc_u32_sel + its keys; values and masks in network order, as the kernel wants. */
function encodeU32Selector(keys: readonly U32Key[], terminal: boolean, hashKey?: { mask: number; off: number }): Buffer {
  const sel = Buffer.alloc(16 + keys.length * 16);
  sel.writeUInt8(terminal ? TC_U32_TERMINAL : 0, 0);
  sel.writeUInt8(keys.length, 2);
  if (hashKey) {
    sel.writeUInt32BE(hashKey.mask >>> 0, 12);
    sel.writeInt16LE(hashKey.off, 10);
  }
  keys.forEach((k, i) => {
    const at = 16 + i * 16;
    sel.writeUInt32BE(k.mask >>> 0, at);
    sel.writeUInt32BE((k.value & k.mask) >>> 0, at + 4);
    sel.writeInt32LE(k.off, at + 8);
    sel.writeInt32LE(k.offmask ?? 0, at + 12);
  });
  return sel;
}

function decodeU32Selector(sel: Buffer): { keys: U32Key[]; hashKey?: { mask: number; off: number } } {
  const n = sel.readUInt8(2);
  const keys: U32Key[] = [];
  for (let i = 0; i < n && 16 + i * 16 + 16 <= sel.length; i++) {
    const at = 16 + i * 16;
    const offmask = sel.readInt32LE(at + 12);
    keys.push({ mask: sel.readUInt32BE(at), value: sel.readUInt32BE(at + 4), off: sel.readInt32LE(at + 8), ...(offmask ? { offmask } : {}) });
  }
  const hmask = sel.readUInt32BE(12);
  return { keys, ...(hmask ? { hashKey: { mask: hmask, off: sel.readInt16LE(10) } } : {}) };
}

/** TCA_KIND + TCA_OPTIONS of a filter; `handle` is the filter's u32 handle (its table and bucket). */
export function encodeFilterOptions(spec: FilterSpec, handle: number, ctx: TcEncodeContext): { kind: string; options: Buffer } {
  switch (spec.kind) {
    case 'u32': {
      if (spec.divisor !== undefined) return { kind: 'u32', options: nestedPlain(TCA.OPTIONS, [u32Attr(TCA_U32.DIVISOR, spec.divisor)]) };
      const terminal = spec.classid !== undefined || (spec.actions?.length ?? 0) > 0;
      const parts = [attr(TCA_U32.SEL, encodeU32Selector(spec.keys, terminal, spec.hashKey))];
      // The table and bucket the entry goes in; the root table (800:) needs no hint.
      if (handle >>> 20 !== 0x800) parts.push(u32Attr(TCA_U32.HASH, (handle & 0xfffff000) >>> 0));
      if (spec.classid !== undefined) parts.push(u32Attr(TCA_U32.CLASSID, spec.classid));
      if (spec.link !== undefined) parts.push(u32Attr(TCA_U32.LINK, spec.link));
      if (spec.actions?.length) parts.push(nestedPlain(TCA_U32.ACT, spec.actions.map((a, i) => encodeAction(a, ctx, ACTION_ORDER_FIRST + i))));
      return { kind: 'u32', options: nestedPlain(TCA.OPTIONS, parts) };
    }
    case 'bpf': {
      const prog = ctx.bpfProgram(spec.program);
      const parts = [u32Attr(TCA_BPF.FD, prog.fd), stringAttr(TCA_BPF.NAME, prog.name), u32Attr(TCA_BPF.FLAGS, spec.directAction ? TCA_BPF_FLAG_ACT_DIRECT : 0)];
      if (spec.classid !== undefined) parts.push(u32Attr(TCA_BPF.CLASSID, spec.classid));
      return { kind: 'bpf', options: nestedPlain(TCA.OPTIONS, parts) };
    }
    default:
      return assertNever(spec);
  }
}

export const NETCLS_PROGRAM_NAME = 'sl_netcls';

export function decodeFilterOptions(kind: string, options: Buffer | undefined, ctx: TcDecodeContext): FilterSpec | undefined {
  if (!options) return undefined;
  if (kind === 'u32') return decodeU32Options(options, ctx);
  if (kind === 'bpf') {
    const a = attrMap(options);
    const name = readString(a.get(TCA_BPF.NAME)) ?? '';
    if (!name.startsWith(NETCLS_PROGRAM_NAME)) return undefined;
    const classid = readU32(a.get(TCA_BPF.CLASSID));
    const flags = readU32(a.get(TCA_BPF.FLAGS)) ?? 0;
    return { kind: 'bpf', program: 'netcls-classid', directAction: (flags & TCA_BPF_FLAG_ACT_DIRECT) !== 0, ...(classid !== undefined ? { classid: asHandle(classid) as TcHandle } : {}) };
  }
  return undefined;
}

const { DIVISOR: U32_DIVISOR, SEL: U32_SEL, CLASSID: U32_CLASSID, LINK: U32_LINK, ACT: U32_ACT } = TCA_U32;

/**
 * u32 options in one pass over the attributes (a dump holds one per container and
 * direction), the last of a repeated attribute winning as in attrMap.
 */
function decodeU32Options(options: Buffer, ctx: TcDecodeContext): FilterSpec | undefined {
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
    if (type === U32_DIVISOR) divisor = u32;
    else if (type === U32_SEL) sel = options.subarray(at + 4, at + len);
    else if (type === U32_CLASSID) classid = u32;
    else if (type === U32_LINK) link = u32;
    else if (type === U32_ACT) act = options.subarray(at + 4, at + len);
    at += (len + 3) & ~3;
  }
  if (divisor !== undefined) return { kind: 'u32', divisor, keys: [] };
  if (!sel) return undefined;
  const { keys, hashKey } = decodeU32Selector(sel);
  const actions = act ? decodeActions(act, ctx) : [];
  return {
    kind: 'u32',
    keys,
    ...(link !== undefined ? { link, ...(hashKey ? { hashKey } : {}) } : {}),
    ...(classid !== undefined ? { classid: asHandle(classid) } : {}),
    ...(actions.length ? { actions } : {}),
  };
}

function decodeActions(act: Buffer, ctx: TcDecodeContext): ActionSpec[] {
  const out: ActionSpec[] = [];
  for (const x of parseAttrs(act)) {
    const a = decodeAction(x.payload, ctx);
    if (a !== undefined) out.push(a);
  }
  return out;
}

// ---------------------------------------------------------------- statistics

export function decodeCounters(stats2: Buffer | undefined, htb?: HtbXstats): TcCounters & { htb?: HtbXstats } {
  // One pass, offsets (-1: absent) instead of subarrays, no closures: a tick reads the
  // counters of every class and qdiscs, tens of thousands of them.
  let basic = -1;
  let basicLen = 0;
  let queue = -1;
  let pkt64 = -1;
  const end = stats2 ? stats2.length : 0;
  for (let at = 0; at + 4 <= end; ) {
    const len = stats2!.readUInt16LE(at);
    if (len < 4 || at + len > end) break;
    const type = stats2!.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (type === TCA_STATS_BASIC && basic < 0) {
      basic = at + 4;
      basicLen = len - 4;
    } else if (type === TCA_STATS_QUEUE && queue < 0) queue = at + 4;
    else if (type === TCA_STATS_PKT64 && pkt64 < 0 && len - 4 >= 8) pkt64 = at + 4;
    at += (len + 3) & ~3;
  }
  const b = stats2!;
  const bytes = basic >= 0 ? u64At(b, basic) : 0;
  const packets = pkt64 >= 0 ? u64At(b, pkt64) : basic >= 0 && basicLen >= 12 ? b.readUInt32LE(basic + 8) : 0;
  const qlen = queue >= 0 ? b.readUInt32LE(queue) : 0;
  const backlogBytes = queue >= 0 ? b.readUInt32LE(queue + 4) : 0;
  const drops = queue >= 0 ? b.readUInt32LE(queue + 8) : 0;
  const requeues = queue >= 0 ? b.readUInt32LE(queue + 12) : 0;
  const overlimits = queue >= 0 ? b.readUInt32LE(queue + 16) : 0;
  // Two plain literals, not `{ ...(htb ? { htb } : {}), ... }`: V8 builds an object that
  // starts with a conditional spread on a slow path (~6 µs each, 60 ms per 10,000 classes).
  if (htb) return { htb, bytes, packets, qlen, backlogBytes, drops, requeues, overlimits };
  return { bytes, packets, qlen, backlogBytes, drops, requeues, overlimits };
}

const TCA_STATS_BASIC = TCA_STATS.BASIC;
const TCA_STATS_QUEUE = TCA_STATS.QUEUE;
const TCA_STATS_PKT64 = TCA_STATS.PKT64;

/** struct tc_htb_xstats, from TCA_STATS2/TCA_STATS_APP (or the legacy TCA_XSTATS). */
export function decodeHtbXstats(app: Buffer | undefined): HtbXstats | undefined {
  if (!app || app.length < 20) return undefined;
  return { lends: app.readUInt32LE(0), borrows: app.readUInt32LE(4), giants: app.readUInt32LE(8), tokens: app.readInt32LE(12), ctokens: app.readInt32LE(16) };
}

export const statsApp = (stats2: Buffer | undefined): Buffer | undefined => (stats2 ? attrOf(stats2, TCA_STATS.APP) : undefined);
