// HTB (sch_htb): the qdisc (struct tc_htb_glob), its classes (struct tc_htb_opt) and the
// class statistics (struct tc_htb_xstats), from pkt_sched.h.

import type { HtbClassSpec, HtbXstats, QdiscSpec } from '../../../tc/model';
import { bitsPerSec, bytes } from '../../../units/units';
import { attr, attrOf, nestedPlain, readU32, readU64, u32Attr, u64Attr } from '../attrs';
import { NS_PER_TICK, TC_HTB_PROTOVER, TC_LINKLAYER_ETHERNET, TCA, TCA_HTB } from '../constants';
import { malformed, type Decoded, type QdiscCodec } from './codec';
import { embed, layout, s16, s32, u16, u32, u8 } from './layout';

export const TC_RATESPEC = layout('tc_ratespec', 12, { cell_log: u8(0), linklayer: u8(1), overhead: u16(2), cell_align: s16(4), mpu: u16(6), rate: u32(8) });

export const TC_HTB_GLOB = layout('tc_htb_glob', 20, { version: u32(0), rate2quantum: u32(4), defcls: u32(8), debug: u32(12), direct_pkts: u32(16) });

export const TC_HTB_OPT = layout('tc_htb_opt', 44, {
  ...embed('rate', TC_RATESPEC, 0),
  ...embed('ceil', TC_RATESPEC, 12),
  buffer: u32(24),
  cbuffer: u32(28),
  quantum: u32(32),
  level: u32(36),
  prio: u32(40),
});

export const TC_HTB_XSTATS = layout('tc_htb_xstats', 20, { lends: u32(0), borrows: u32(4), giants: u32(8), tokens: s32(12), ctokens: s32(16) });

/** The kernel's default when TCA_HTB_DIRECT_QLEN is not given (the device's txqueuelen, 1000 for Sluice's). */
const DEFAULT_DIRECT_QLEN = 1000;

type HtbQdiscSpec = Extract<QdiscSpec, { kind: 'htb' }>;

export const htbQdisc: QdiscCodec<HtbQdiscSpec> = {
  encode: (spec) => {
    const glob = TC_HTB_GLOB.encode({ version: TC_HTB_PROTOVER, rate2quantum: spec.r2q, defcls: spec.defaultMinor });
    const parts = [attr(TCA_HTB.INIT, glob)];
    if (spec.directQlen !== undefined) parts.push(u32Attr(TCA_HTB.DIRECT_QLEN, spec.directQlen));
    return nestedPlain(TCA.OPTIONS, parts);
  },
  decode: (options) => {
    const glob = options ? attrOf(options, TCA_HTB.INIT) : undefined;
    if (!glob || !TC_HTB_GLOB.fits(glob)) return malformed('qdisc', 'htb', 'no struct tc_htb_glob in TCA_HTB_INIT');
    const qlen = readU32(attrOf(options!, TCA_HTB.DIRECT_QLEN));
    return {
      kind: 'htb',
      r2q: TC_HTB_GLOB.read(glob, 'rate2quantum'),
      defaultMinor: TC_HTB_GLOB.read(glob, 'defcls'),
      ...(qlen !== undefined && qlen !== DEFAULT_DIRECT_QLEN ? { directQlen: qlen } : {}),
    };
  },
};

const U32_MAX = 0xffffffff;

/** Bytes sent at `bytesPerSec` ⇄ scheduler ticks (HTB keeps burst as time). */
export const bytesToTicks = (size: number, bytesPerSec: number): number => Math.round((size * 1e9) / bytesPerSec / NS_PER_TICK);
export const ticksToBytes = (ticks: number, bytesPerSec: number): number => Math.round((ticks * NS_PER_TICK * bytesPerSec) / 1e9);

/** The TCA_OPTIONS of an HTB class; a rate above 32 bits of bytes/s goes in the u64 attribute. */
export function encodeHtbClass(spec: HtbClassSpec): Buffer {
  const rate = Math.round(spec.rate / 8);
  const ceil = Math.round(spec.ceil / 8);
  const opt = TC_HTB_OPT.encode({
    // A link layer set means "no rate table needed" to the kernel (no legacy RTAB).
    'rate.linklayer': TC_LINKLAYER_ETHERNET,
    'rate.rate': Math.min(rate, U32_MAX),
    'ceil.linklayer': TC_LINKLAYER_ETHERNET,
    'ceil.rate': Math.min(ceil, U32_MAX),
    buffer: bytesToTicks(spec.burst, rate),
    cbuffer: bytesToTicks(spec.cburst, ceil),
    quantum: spec.quantum,
    prio: spec.prio,
  });
  const parts = [attr(TCA_HTB.PARMS, opt)];
  if (rate >= U32_MAX) parts.push(u64Attr(TCA_HTB.RATE64, rate));
  if (ceil >= U32_MAX) parts.push(u64Attr(TCA_HTB.CEIL64, ceil));
  return nestedPlain(TCA.OPTIONS, parts);
}

export function decodeHtbClass(options: Buffer | undefined): Decoded<HtbClassSpec> {
  const opt = options ? attrOf(options, TCA_HTB.PARMS) : undefined;
  if (!opt || !TC_HTB_OPT.fits(opt)) return malformed('class', 'htb', 'no struct tc_htb_opt in TCA_HTB_PARMS');
  const rate = readU64(attrOf(options!, TCA_HTB.RATE64)) ?? TC_HTB_OPT.read(opt, 'rate.rate');
  const ceil = readU64(attrOf(options!, TCA_HTB.CEIL64)) ?? TC_HTB_OPT.read(opt, 'ceil.rate');
  const spec: HtbClassSpec = {
    kind: 'htb',
    rate: bitsPerSec(rate * 8),
    ceil: bitsPerSec(ceil * 8),
    burst: bytes(ticksToBytes(TC_HTB_OPT.read(opt, 'buffer'), rate)),
    cburst: bytes(ticksToBytes(TC_HTB_OPT.read(opt, 'cbuffer'), ceil)),
    quantum: bytes(TC_HTB_OPT.read(opt, 'quantum')),
    prio: TC_HTB_OPT.read(opt, 'prio'),
  };
  return TC_HTB_OPT.read(opt, 'level') > 0 ? { ...spec, inner: true } : spec;
}

/** struct tc_htb_xstats, from TCA_STATS2/TCA_STATS_APP (or the legacy TCA_XSTATS). */
export function decodeHtbXstats(app: Buffer | undefined): HtbXstats | undefined {
  if (!app || !TC_HTB_XSTATS.fits(app)) return undefined;
  const x = TC_HTB_XSTATS;
  return { lends: x.read(app, 'lends'), borrows: x.read(app, 'borrows'), giants: x.read(app, 'giants'), tokens: x.read(app, 'tokens'), ctokens: x.read(app, 'ctokens') };
}
