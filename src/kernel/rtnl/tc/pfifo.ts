// pfifo (sch_fifo): struct tc_fifo_qopt, from pkt_sched.h.

import type { QdiscSpec } from '../../../tc/model';
import { attr } from '../attrs';
import { TCA } from '../constants';
import { malformed, type QdiscCodec } from './codec';
import { layout, u32 } from './layout';

export const TC_FIFO_QOPT = layout('tc_fifo_qopt', 4, { limit: u32(0) });

export const pfifoQdisc: QdiscCodec<Extract<QdiscSpec, { kind: 'pfifo' }>> = {
  encode: (spec) => attr(TCA.OPTIONS, TC_FIFO_QOPT.encode({ limit: spec.limitPackets })),
  decode: (options) => {
    if (!options || !TC_FIFO_QOPT.fits(options)) return malformed('qdisc', 'pfifo', 'no struct tc_fifo_qopt in TCA_OPTIONS');
    return { kind: 'pfifo', limitPackets: TC_FIFO_QOPT.read(options, 'limit') };
  },
};
