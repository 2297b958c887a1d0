// What the compiler may assume about the kernel: detected by the kernel port
// (src/kernel/rtnl/features.ts), read by the pure compiler. Here, below both.

import type { QdiscKind } from './model';

export interface KernelFeatures {
  /** Qdisc kinds usable as HTB leaves, best first among those that exist. */
  readonly leafQdiscs: readonly QdiscKind[];
  /** cls_bpf exists (needed for cgroup classids). */
  readonly clsBpf: boolean;
}

/** What this project's reference kernel has: no fq_codel/sfq, so pfifo leaves. */
export const BASELINE_FEATURES: KernelFeatures = { leafQdiscs: ['pfifo'], clsBpf: true };
