// Qdisc option codecs. fifo and sfq carry a raw struct as TCA_OPTIONS (not nested
// attributes): that is how sch_fifo.c / sch_sfq.c read and dump them.

import type { QdiscSpec } from '../../model';
import { bitsPerSec, bytes } from '../../../units/units';
import { attrMap, nest, u32Attr, u64Attr } from '../attrs';
import { TC_HTB_PROTOVER, TCA_HTB, TCA_TBF } from '../constants';
import { RATESPEC_SIZE, burstToTicks, needs64, readRatespecRate, ticksToBurst, writeRatespec } from '../ratespec';

export type QdiscKind = QdiscSpec['kind'];
type SpecOf<K extends QdiscKind> = Extract<QdiscSpec, { kind: K }>;

export interface QdiscCodec<K extends QdiscKind> {
  encode(spec: SpecOf<K>): Buffer | undefined;
  decode(options: Buffer | undefined): SpecOf<K>;
}

const TC_HTB_GLOB_SIZE = 20;
const TC_TBF_QOPT_SIZE = 2 * RATESPEC_SIZE + 12;
const TC_SFQ_QOPT_SIZE = 20;

/** TCA_OPTIONS is a list of attributes: walk it as one. */
const optionAttrs = (options: Buffer | undefined): Map<number, Buffer> => (options ? attrMap(options) : new Map<number, Buffer>());

export const htbQdiscCodec: QdiscCodec<'htb'> = {
  encode(spec) {
    const glob = Buffer.alloc(TC_HTB_GLOB_SIZE);
    glob.writeUInt32LE(TC_HTB_PROTOVER, 0);
    glob.writeUInt32LE(spec.r2q, 4);
    glob.writeUInt32LE(spec.defaultMinor, 8);
    const attrs = [nest(TCA_HTB.INIT, [glob])];
    if (spec.directQlen !== undefined) attrs.push(u32Attr(TCA_HTB.DIRECT_QLEN, spec.directQlen));
    return Buffer.concat(attrs);
  },
  decode(options) {
    const a = optionAttrs(options);
    const glob = a.get(TCA_HTB.INIT);
    const directQlen = a.get(TCA_HTB.DIRECT_QLEN);
    return {
      kind: 'htb',
      r2q: glob ? glob.readUInt32LE(4) : 10,
      defaultMinor: glob ? glob.readUInt32LE(8) : 0,
      ...(directQlen ? { directQlen: directQlen.readUInt32LE(0) } : {}),
    };
  },
};

const noOptions = <K extends 'ingress' | 'clsact' | 'fq_codel'>(kind: K): QdiscCodec<K> => ({
  encode: () => undefined,
  decode: () => ({ kind }) as SpecOf<K>,
});

function fifoOpt(limit: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(limit, 0);
  return b;
}

export const pfifoCodec: QdiscCodec<'pfifo'> = {
  encode: (spec) => fifoOpt(spec.limitPackets),
  decode: (options) => ({ kind: 'pfifo', limitPackets: options && options.length >= 4 ? options.readUInt32LE(0) : 0 }),
};

export const bfifoCodec: QdiscCodec<'bfifo'> = {
  encode: (spec) => fifoOpt(spec.limitBytes),
  decode: (options) => ({ kind: 'bfifo', limitBytes: bytes(options && options.length >= 4 ? options.readUInt32LE(0) : 0) }),
};

export const tbfCodec: QdiscCodec<'tbf'> = {
  encode(spec) {
    const rateBytes = spec.rate / 8;
    const qopt = Buffer.alloc(TC_TBF_QOPT_SIZE);
    writeRatespec(qopt, 0, rateBytes);
    // peakrate left zero: no peak-rate bucket.
    qopt.writeUInt32LE(spec.limitBytes, 2 * RATESPEC_SIZE);
    qopt.writeUInt32LE(burstToTicks(spec.burst, rateBytes), 2 * RATESPEC_SIZE + 4);
    const attrs = [nest(TCA_TBF.PARMS, [qopt]), u32Attr(TCA_TBF.BURST, spec.burst)];
    if (needs64(rateBytes)) attrs.push(u64Attr(TCA_TBF.RATE64, rateBytes));
    return Buffer.concat(attrs);
  },
  decode(options) {
    const a = optionAttrs(options);
    const qopt = a.get(TCA_TBF.PARMS);
    const rate64 = a.get(TCA_TBF.RATE64);
    if (!qopt || qopt.length < TC_TBF_QOPT_SIZE) return { kind: 'tbf', rate: bitsPerSec(0), burst: bytes(0), limitBytes: bytes(0) };
    const rateBytes = rate64 && rate64.length >= 8 ? Number(rate64.readBigUInt64LE(0)) : readRatespecRate(qopt, 0);
    return {
      kind: 'tbf',
      rate: bitsPerSec(rateBytes * 8),
      burst: bytes(ticksToBurst(qopt.readUInt32LE(2 * RATESPEC_SIZE + 4), rateBytes)),
      limitBytes: bytes(qopt.readUInt32LE(2 * RATESPEC_SIZE)),
    };
  },
};

export const sfqCodec: QdiscCodec<'sfq'> = {
  encode(spec) {
    // tc_sfq_qopt: quantum, perturb_period, limit, divisor, flows; zero = kernel default.
    const b = Buffer.alloc(TC_SFQ_QOPT_SIZE);
    b.writeInt32LE(spec.perturbSec, 4);
    return b;
  },
  decode: (options) => ({ kind: 'sfq', perturbSec: options && options.length >= 8 ? options.readInt32LE(4) : 0 }),
};

export const ingressCodec = noOptions('ingress');
export const clsactCodec = noOptions('clsact');
export const fqCodelCodec = noOptions('fq_codel');
