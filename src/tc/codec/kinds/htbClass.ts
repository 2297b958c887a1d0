// HTB class options: tc_htb_opt (+ TCA_HTB_RATE64/CEIL64 above ~34 Gbit/s in bits, i.e.
// rates whose bytes/s do not fit 32 bits). Since 3.x htb_change_class ignores rate
// tables (TCA_HTB_RTAB/CTAB) and computes its own from the rate, so none are sent.

import type { HtbClassSpec } from '../../model';
import { bitsPerSec, bytes } from '../../../units/units';
import { attrMap, nest, u64Attr } from '../attrs';
import { TCA_HTB } from '../constants';
import { RATESPEC_SIZE, burstToTicks, needs64, readRatespecRate, ticksToBurst, writeRatespec } from '../ratespec';

/** rate, ceil, buffer, cbuffer, quantum, level, prio */
const TC_HTB_OPT_SIZE = 2 * RATESPEC_SIZE + 5 * 4;
const OFF = { rate: 0, ceil: RATESPEC_SIZE, buffer: 24, cbuffer: 28, quantum: 32, level: 36, prio: 40 } as const;

export function encodeHtbClassOptions(spec: HtbClassSpec): Buffer {
  const rateBytes = spec.rate / 8;
  const ceilBytes = spec.ceil / 8;
  const opt = Buffer.alloc(TC_HTB_OPT_SIZE);
  writeRatespec(opt, OFF.rate, rateBytes);
  writeRatespec(opt, OFF.ceil, ceilBytes);
  opt.writeUInt32LE(burstToTicks(spec.burst, rateBytes), OFF.buffer);
  opt.writeUInt32LE(burstToTicks(spec.cburst, ceilBytes), OFF.cbuffer);
  opt.writeUInt32LE(spec.quantum, OFF.quantum);
  opt.writeUInt32LE(spec.prio, OFF.prio);
  const attrs = [nest(TCA_HTB.PARMS, [opt])];
  if (needs64(rateBytes)) attrs.push(u64Attr(TCA_HTB.RATE64, rateBytes));
  if (needs64(ceilBytes)) attrs.push(u64Attr(TCA_HTB.CEIL64, ceilBytes));
  return Buffer.concat(attrs);
}

export function decodeHtbClassOptions(options: Buffer | undefined): HtbClassSpec | undefined {
  if (!options) return undefined;
  const a = attrMap(options);
  const opt = a.get(TCA_HTB.PARMS);
  if (!opt || opt.length < TC_HTB_OPT_SIZE) return undefined;
  const rate64 = a.get(TCA_HTB.RATE64);
  const ceil64 = a.get(TCA_HTB.CEIL64);
  const rateBytes = rate64 && rate64.length >= 8 ? Number(rate64.readBigUInt64LE(0)) : readRatespecRate(opt, OFF.rate);
  const ceilBytes = ceil64 && ceil64.length >= 8 ? Number(ceil64.readBigUInt64LE(0)) : readRatespecRate(opt, OFF.ceil);
  return {
    kind: 'htb',
    rate: bitsPerSec(rateBytes * 8),
    ceil: bitsPerSec(ceilBytes * 8),
    burst: bytes(ticksToBurst(opt.readUInt32LE(OFF.buffer), rateBytes)),
    cburst: bytes(ticksToBurst(opt.readUInt32LE(OFF.cbuffer), ceilBytes)),
    prio: opt.readUInt32LE(OFF.prio),
    quantum: bytes(opt.readUInt32LE(OFF.quantum)),
  };
}
