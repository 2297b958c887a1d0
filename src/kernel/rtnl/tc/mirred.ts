// The mirred action (act_mirred): struct tc_mirred, from tc_act/tc_mirred.h, which starts
// with the tc_gen fields every action shares (pkt_cls.h).

import type { ActionSpec } from '../../../tc/model';
import { attr, attrOf } from '../attrs';
import { TC_ACT, TCA_EGRESS_MIRROR, TCA_EGRESS_REDIR, TCA_MIRRED_PARMS } from '../constants';
import { malformed, type ActionCodec } from './codec';
import { layout, s32, u32 } from './layout';

/** The tc_gen macro's fields. */
const TC_GEN = { index: u32(0), capab: u32(4), action: s32(8), refcnt: s32(12), bindcnt: s32(16) };

export const TC_MIRRED = layout('tc_mirred', 28, { ...TC_GEN, eaction: s32(20), ifindex: u32(24) });

export const mirredAction: ActionCodec<ActionSpec> = {
  encode: (a, ctx) => {
    const redirect = a.action === 'egress-redirect';
    // A redirected packet is gone from this device (STOLEN); a mirrored one goes on (PIPE).
    const parms = TC_MIRRED.encode({ action: redirect ? TC_ACT.STOLEN : TC_ACT.PIPE, eaction: redirect ? TCA_EGRESS_REDIR : TCA_EGRESS_MIRROR, ifindex: ctx.ifindexOf(a.targetDev) });
    return attr(TCA_MIRRED_PARMS, parms);
  },
  decode: (options, ctx) => {
    const p = attrOf(options, TCA_MIRRED_PARMS);
    if (!p || !TC_MIRRED.fits(p)) return malformed('action', 'mirred', 'no struct tc_mirred in TCA_MIRRED_PARMS');
    const eaction = TC_MIRRED.read(p, 'eaction');
    if (eaction !== TCA_EGRESS_REDIR && eaction !== TCA_EGRESS_MIRROR) return malformed('action', 'mirred', `eaction ${eaction} is not an egress redirect or mirror`);
    const ifindex = TC_MIRRED.read(p, 'ifindex');
    return { kind: 'mirred', action: eaction === TCA_EGRESS_REDIR ? 'egress-redirect' : 'egress-mirror', targetDev: ctx.devOf(ifindex) ?? `ifindex:${ifindex}` };
  },
};
