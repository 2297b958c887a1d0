// sfq (sch_sfq): struct tc_sfq_qopt, from pkt_sched.h. Zero fields are the kernel's defaults.

import type { QdiscSpec } from '../../../tc/model';
import { attr } from '../attrs';
import { TCA } from '../constants';
import { malformed, type QdiscCodec } from './codec';
import { layout, s32, u32 } from './layout';

export const TC_SFQ_QOPT = layout('tc_sfq_qopt', 20, { quantum: u32(0), perturb_period: s32(4), limit: u32(8), divisor: u32(12), flows: u32(16) });

export const sfqQdisc: QdiscCodec<Extract<QdiscSpec, { kind: 'sfq' }>> = {
  encode: (spec) => attr(TCA.OPTIONS, TC_SFQ_QOPT.encode({ perturb_period: spec.perturbSec })),
  decode: (options) => {
    if (!options || !TC_SFQ_QOPT.fits(options)) return malformed('qdisc', 'sfq', 'no struct tc_sfq_qopt in TCA_OPTIONS');
    return { kind: 'sfq', perturbSec: TC_SFQ_QOPT.read(options, 'perturb_period') };
  },
};
