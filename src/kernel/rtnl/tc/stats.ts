// A qdisc's or class's counters: TCA_STATS2 holds struct gnet_stats_basic and
// gnet_stats_queue (gen_stats.h), a 64-bit packet count, and the kind's own statistics
// (TCA_STATS_APP: struct tc_htb_xstats for HTB classes).

import type { HtbXstats, TcCounters } from '../../../tc/model';
import { attrOf, NLA_TYPE_MASK } from '../attrs';
import { TCA_STATS } from '../constants';
import { layout, u32, u64 } from './layout';

export const GNET_STATS_BASIC = layout('gnet_stats_basic', 12, { bytes: u64(0), packets: u32(8) });
export const GNET_STATS_QUEUE = layout('gnet_stats_queue', 20, { qlen: u32(0), backlog: u32(4), drops: u32(8), requeues: u32(12), overlimits: u32(16) });

const { BASIC, QUEUE, PKT64 } = TCA_STATS;

export function decodeCounters(stats2: Buffer | undefined, htb?: HtbXstats): TcCounters & { htb?: HtbXstats } {
  // One pass, offsets (-1: absent) instead of subarrays, no closures: a tick reads the
  // counters of every class and qdisc.
  let basic = -1;
  let queue = -1;
  let pkt64 = -1;
  const b = stats2 ?? EMPTY;
  for (let at = 0; at + 4 <= b.length; ) {
    const len = b.readUInt16LE(at);
    if (len < 4 || at + len > b.length) break;
    const type = b.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (type === BASIC && basic < 0 && len - 4 >= GNET_STATS_BASIC.size) basic = at + 4;
    else if (type === QUEUE && queue < 0 && len - 4 >= GNET_STATS_QUEUE.size) queue = at + 4;
    else if (type === PKT64 && pkt64 < 0 && len - 4 >= 8) pkt64 = at + 4;
    at += (len + 3) & ~3;
  }
  const bytes = basic >= 0 ? GNET_STATS_BASIC.read(b, 'bytes', basic) : 0;
  const packets = pkt64 >= 0 ? b.readUInt32LE(pkt64) + b.readUInt32LE(pkt64 + 4) * 0x1_0000_0000 : basic >= 0 ? GNET_STATS_BASIC.read(b, 'packets', basic) : 0;
  const q = GNET_STATS_QUEUE;
  const qlen = queue >= 0 ? q.read(b, 'qlen', queue) : 0;
  const backlogBytes = queue >= 0 ? q.read(b, 'backlog', queue) : 0;
  const drops = queue >= 0 ? q.read(b, 'drops', queue) : 0;
  const requeues = queue >= 0 ? q.read(b, 'requeues', queue) : 0;
  const overlimits = queue >= 0 ? q.read(b, 'overlimits', queue) : 0;
  // Two plain literals, not `{ ...(htb ? { htb } : {}), ... }`: V8 builds an object that
  // starts with a conditional spread on a slow path.
  if (htb) return { htb, bytes, packets, qlen, backlogBytes, drops, requeues, overlimits };
  return { bytes, packets, qlen, backlogBytes, drops, requeues, overlimits };
}

const EMPTY = Buffer.alloc(0);

export const statsApp = (stats2: Buffer | undefined): Buffer | undefined => (stats2 ? attrOf(stats2, TCA_STATS.APP) : undefined);
