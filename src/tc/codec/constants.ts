// tc numbers from the UAPI headers (/usr/include/linux/pkt_sched.h, pkt_cls.h, rtnetlink.h,
// gen_stats.h, tc_act/tc_mirred.h, tc_act/tc_gact.h).

export const TCA = { KIND: 1, OPTIONS: 2, STATS: 3, XSTATS: 4, STATS2: 7 } as const;
export const TCA_STATS = { BASIC: 1, RATE_EST: 2, QUEUE: 3, APP: 4, PKT64: 8 } as const;

export const TCA_HTB = { PARMS: 1, INIT: 2, CTAB: 3, RTAB: 4, DIRECT_QLEN: 5, RATE64: 6, CEIL64: 7 } as const;
export const TC_HTB_PROTOVER = 3;
export const TCA_TBF = { PARMS: 1, RTAB: 2, PTAB: 3, RATE64: 4, PRATE64: 5, BURST: 6, PBURST: 7 } as const;
export const TC_LINKLAYER_ETHERNET = 1;

export const TCA_U32 = { CLASSID: 1, HASH: 2, LINK: 3, DIVISOR: 4, SEL: 5, POLICE: 6, ACT: 7, FLAGS: 11 } as const;
export const TC_U32_TERMINAL = 1;

export const TCA_BPF = { ACT: 1, CLASSID: 3, FD: 6, NAME: 7, FLAGS: 8 } as const;
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

export const TCA_ACT = { KIND: 1, OPTIONS: 2 } as const;
export const TCA_MIRRED_PARMS = 2;
export const TCA_GACT_PARMS = 2;
export const TCA_EGRESS_REDIR = 1;
export const TCA_EGRESS_MIRROR = 2;
export const TC_ACT = { OK: 0, SHOT: 2, PIPE: 3, STOLEN: 4 } as const;

/** PSCHED_SHIFT = 6: the tick unit of tc_htb_opt.buffer / tc_tbf_qopt.buffer is 64 ns. */
export const PSCHED_TICKS_PER_SEC = 1_000_000_000 / 64;
