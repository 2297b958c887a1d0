// The codec surface the kernel port uses: model objects ⇄ TcWireMessage, and counters.

import { asHandle, majorOf, makeHandle, TC_H_ROOT } from '../handle';
import type { ClassObject, FilterObject, HtbXstats, QdiscObject, TcCounters } from '../model';
import { attrMap, readU64 } from './attrs';
import { TCA_STATS } from './constants';
import { CLASS_CODECS, FILTER_CODECS, decodeQdiscOptions, encodeFilterOptions, encodeQdiscOptions, isFilterKind, isQdiscKind } from './registry';
import type { DecodeContext, EncodeContext, TcWireMessage } from './types';

export type { DecodeContext, EncodeContext, TcWireMessage } from './types';

const htons = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/** tcm_info of a filter: prio in the upper half, the protocol in network order in the lower. */
export const filterInfo = (prio: number, protocol: number): number => (((prio & 0xffff) << 16) | htons(protocol)) >>> 0;
export const prioOfInfo = (info: number): number => (info >>> 16) & 0xffff;
export const protocolOfInfo = (info: number): number => htons(info & 0xffff);

export function encodeQdisc(q: QdiscObject, ctx: EncodeContext): TcWireMessage {
  const options = encodeQdiscOptions(q.spec);
  return { ifindex: ctx.ifindexOf(q.dev), handle: q.handle, parent: q.parent, info: 0, kind: q.spec.kind, ...(options ? { options } : {}) };
}

export function decodeQdisc(msg: TcWireMessage, ctx: DecodeContext): QdiscObject | undefined {
  const dev = ctx.devOf(msg.ifindex);
  if (dev === undefined || !isQdiscKind(msg.kind)) return undefined;
  return {
    type: 'qdisc',
    netns: ctx.netns,
    dev,
    handle: asHandle(msg.handle),
    parent: asHandle(msg.parent),
    spec: decodeQdiscOptions(msg.kind, msg.options),
  };
}

export function encodeClass(c: ClassObject, ctx: EncodeContext): TcWireMessage {
  return {
    ifindex: ctx.ifindexOf(c.dev),
    handle: c.classid,
    parent: c.parent,
    info: 0,
    kind: c.spec.kind,
    options: CLASS_CODECS[c.spec.kind].encode(c.spec),
  };
}

export function decodeClass(msg: TcWireMessage, ctx: DecodeContext): ClassObject | undefined {
  const dev = ctx.devOf(msg.ifindex);
  if (dev === undefined || msg.kind !== 'htb') return undefined;
  const spec = CLASS_CODECS.htb.decode(msg.options);
  if (!spec) return undefined;
  // HTB dumps a top-level class with parent TC_H_ROOT; the model (and tc) name its qdisc, major:0.
  const parent = msg.parent >>> 0 === TC_H_ROOT ? makeHandle(majorOf(asHandle(msg.handle)), 0) : asHandle(msg.parent);
  return { type: 'class', netns: ctx.netns, dev, classid: asHandle(msg.handle), parent, spec };
}

export function encodeFilter(f: FilterObject, ctx: EncodeContext): TcWireMessage {
  return {
    ifindex: ctx.ifindexOf(f.dev),
    handle: f.handle >>> 0,
    parent: f.parent,
    info: filterInfo(f.prio, f.protocol),
    kind: f.spec.kind,
    options: encodeFilterOptions(f.spec, ctx, f.handle >>> 0),
  };
}

export function decodeFilter(msg: TcWireMessage, ctx: DecodeContext): FilterObject | undefined {
  const dev = ctx.devOf(msg.ifindex);
  // A dump also lists each (prio, protocol) chain head with handle 0 and no options.
  if (dev === undefined || !isFilterKind(msg.kind) || msg.handle === 0) return undefined;
  const spec = msg.kind === 'u32' ? FILTER_CODECS.u32.decode(msg.options, ctx) : FILTER_CODECS.bpf.decode(msg.options, ctx);
  return {
    type: 'filter',
    netns: ctx.netns,
    dev,
    parent: asHandle(msg.parent),
    prio: prioOfInfo(msg.info),
    protocol: protocolOfInfo(msg.info),
    handle: msg.handle >>> 0,
    spec,
  };
}

/** TCA_STATS2: gnet_stats_basic (u64 bytes, u32 packets; TCA_STATS_PKT64 when larger) + gnet_stats_queue. */
export function decodeCounters(stats2: Buffer): TcCounters {
  const a = attrMap(stats2);
  const basic = a.get(TCA_STATS.BASIC);
  const queue = a.get(TCA_STATS.QUEUE);
  const pkt64 = readU64(a.get(TCA_STATS.PKT64));
  const q = (i: number): number => (queue && queue.length >= (i + 1) * 4 ? queue.readUInt32LE(i * 4) : 0);
  return {
    bytes: readU64(basic) ?? 0,
    packets: pkt64 ?? (basic && basic.length >= 12 ? basic.readUInt32LE(8) : 0),
    qlen: q(0),
    backlogBytes: q(1),
    drops: q(2),
    requeues: q(3),
    overlimits: q(4),
  };
}

/** struct tc_htb_xstats: lends, borrows, giants (u32), tokens, ctokens (s32, in ticks). */
export function decodeHtbXstats(xstats: Buffer): HtbXstats {
  const at = (i: number): number => (xstats.length >= (i + 1) * 4 ? xstats.readUInt32LE(i * 4) : 0);
  const signed = (i: number): number => (xstats.length >= (i + 1) * 4 ? xstats.readInt32LE(i * 4) : 0);
  return { lends: at(0), borrows: at(1), giants: at(2), tokens: signed(3), ctokens: signed(4) };
}

