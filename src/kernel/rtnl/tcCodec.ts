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
import { attr, attrMap, attrOf, nestedPlain, parseAttrs, readString, readU32, readU64, stringAttr, u32Attr, u64Attr } from './attrs';
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
  const a = attrMap(options);
  if (kind === 'u32') {
    const divisor = readU32(a.get(TCA_U32.DIVISOR));
    if (divisor !== undefined) return { kind: 'u32', divisor, keys: [] };
    const sel = a.get(TCA_U32.SEL);
    if (!sel) return undefined;
    const { keys, hashKey } = decodeU32Selector(sel);
    const classid = readU32(a.get(TCA_U32.CLASSID));
    const link = readU32(a.get(TCA_U32.LINK));
    const act = a.get(TCA_U32.ACT);
    const actions = act ? parseAttrs(act).map((x) => decodeAction(x.payload, ctx)).filter((x): x is ActionSpec => x !== undefined) : [];
    return {
      kind: 'u32',
      keys,
      ...(link !== undefined ? { link, ...(hashKey ? { hashKey } : {}) } : {}),
      ...(classid !== undefined ? { classid: asHandle(classid) } : {}),
      ...(actions.length ? { actions } : {}),
    };
  }
  if (kind === 'bpf') {
    const name = readString(a.get(TCA_BPF.NAME)) ?? '';
    if (!name.startsWith(NETCLS_PROGRAM_NAME)) return undefined;
    const classid = readU32(a.get(TCA_BPF.CLASSID));
    const flags = readU32(a.get(TCA_BPF.FLAGS)) ?? 0;
    return { kind: 'bpf', program: 'netcls-classid', directAction: (flags & TCA_BPF_FLAG_ACT_DIRECT) !== 0, ...(classid !== undefined ? { classid: asHandle(classid) as TcHandle } : {}) };
  }
  return undefined;
}

// ---------------------------------------------------------------- statistics

export function decodeCounters(stats2: Buffer | undefined, htb?: HtbXstats): TcCounters & { htb?: HtbXstats } {
  const basic = stats2 ? attrOf(stats2, TCA_STATS.BASIC) : undefined;
  const queue = stats2 ? attrOf(stats2, TCA_STATS.QUEUE) : undefined;
  const pkt64 = stats2 ? readU64(attrOf(stats2, TCA_STATS.PKT64)) : undefined;
  return {
    ...(htb ? { htb } : {}),
    bytes: basic ? Number(basic.readBigUInt64LE(0)) : 0,
    packets: pkt64 ?? (basic && basic.length >= 12 ? basic.readUInt32LE(8) : 0),
    qlen: queue ? queue.readUInt32LE(0) : 0,
    backlogBytes: queue ? queue.readUInt32LE(4) : 0,
    drops: queue ? queue.readUInt32LE(8) : 0,
    requeues: queue ? queue.readUInt32LE(12) : 0,
    overlimits: queue ? queue.readUInt32LE(16) : 0,
  };
}

/** struct tc_htb_xstats, from TCA_STATS2/TCA_STATS_APP (or the legacy TCA_XSTATS). */
export function decodeHtbXstats(app: Buffer | undefined): HtbXstats | undefined {
  if (!app || app.length < 20) return undefined;
  return { lends: app.readUInt32LE(0), borrows: app.readUInt32LE(4), giants: app.readUInt32LE(8), tokens: app.readInt32LE(12), ctokens: app.readInt32LE(16) };
}

export const statsApp = (stats2: Buffer | undefined): Buffer | undefined => (stats2 ? attrOf(stats2, TCA_STATS.APP) : undefined);
