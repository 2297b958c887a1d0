// rtnetlink and tc numbers, from the UAPI headers in /usr/include/linux (rtnetlink.h,
// if_link.h, if_addr.h, pkt_sched.h, pkt_cls.h, tc_act/*.h, gen_stats.h, veth.h).

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3 } as const;
export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, DUMP_INTR: 0x10, ROOT: 0x100, MATCH: 0x200, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, ACK_TLVS: 0x200 } as const;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWQDISC: 36, DELQDISC: 37, GETQDISC: 38,
  NEWTCLASS: 40, DELTCLASS: 41, GETTCLASS: 42,
  NEWTFILTER: 44, DELTFILTER: 45, GETTFILTER: 46,
} as const;

/** rtnetlink multicast groups (enum rtnetlink_groups): where the kernel announces changes. */
export const RTNLGRP = { LINK: 1, TC: 4, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV6_IFADDR: 9, IPV6_ROUTE: 11 } as const;

/** The loopback device's index, the same in every namespace (since Linux 3.7). */
export const LOOPBACK_IFINDEX = 1;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IFF_UP = 0x1;

export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, LINKINFO: 18, GROUP: 27, NET_NS_FD: 28, LINK_NETNSID: 37, GSO_MAX_SIZE: 41 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
export const VETH_INFO_PEER = 1;
/** IFLA_BR_MCAST_SNOOPING (u8) inside a bridge's IFLA_INFO_DATA. */
export const IFLA_BR_MCAST_SNOOPING = 23;
/** IFLA_BRPORT_ISOLATED (u8) inside a bridge port's IFLA_INFO_SLAVE_DATA (Linux 4.18). */
export const IFLA_BRPORT_ISOLATED = 33;

export const IFA = { ADDRESS: 1, LOCAL: 2, FLAGS: 8 } as const;
/** ifa_flags: no duplicate address detection (if_addr.h). */
export const IFA_F_NODAD = 0x02;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
export const RTPROT = { KERNEL: 2, BOOT: 3, STATIC: 4 } as const;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253 } as const;
export const RTN_UNICAST = 1;

export const TCA = { KIND: 1, OPTIONS: 2, STATS: 3, XSTATS: 4, STATS2: 7 } as const;
export const TCA_STATS = { BASIC: 1, QUEUE: 3, APP: 4, PKT64: 8 } as const;

export const TCA_HTB = { PARMS: 1, INIT: 2, DIRECT_QLEN: 5, RATE64: 6, CEIL64: 7 } as const;
export const TC_HTB_PROTOVER = 3;
export const TC_LINKLAYER_ETHERNET = 1;

export const TCA_U32 = { CLASSID: 1, HASH: 2, LINK: 3, DIVISOR: 4, SEL: 5, ACT: 7, FLAGS: 11 } as const;
export const TC_U32_TERMINAL = 1;

export const TCA_BPF = { CLASSID: 3, FD: 6, NAME: 7, FLAGS: 8 } as const;
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

export const TCA_ACT = { KIND: 1, OPTIONS: 2 } as const;
export const TCA_MIRRED_PARMS = 2;
export const TCA_GACT_PARMS = 2;
export const TCA_EGRESS_REDIR = 1;
export const TCA_EGRESS_MIRROR = 2;
export const TC_ACT = { OK: 0, SHOT: 2, PIPE: 3, STOLEN: 4 } as const;

/** PSCHED_SHIFT: the kernel's scheduler clock ticks are 2^6 ns. */
export const NS_PER_TICK = 64;
