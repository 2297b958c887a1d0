// Link deletions gathered into one request. Each RTM_DELLINK of one device waits out the
// kernel's RCU grace periods on its own; marked with a device group and deleted by that
// group, they share one wait (the kernel's rtnl_group_dellink unregisters them as one
// list). Churn stops containers a batch at a time and destroy removes hundreds of veths,
// so this was most of their kernel time (figures: docs/decisions.md, bench/linkDeletes).

import type { Operation } from '../../tc/operation';
import { NLM_F, RTM } from './constants';
import { frame, groupDeleteBody, linkChangeBody } from './messages';

/**
 * Groups below this are left to people (iproute2 names them in /etc/iproute2/group and
 * `ip link set group` takes small numbers); each run draws its own above it, so neither
 * a foreign device nor one a crashed run left marked is ever in a later run's group.
 */
const GROUP_FLOOR = 2 ** 24;
const GROUP_CEILING = 2 ** 31;
/** Enough to share the grace periods; small enough to stay in one datagram with its marks. */
export const MAX_LINKS_PER_GROUP = 256;

export class DeleteRun {
  readonly ops: Operation[] = [];

  constructor(readonly group: number = GROUP_FLOOR + Math.floor(Math.random() * (GROUP_CEILING - GROUP_FLOOR))) {}

  /** RTM_NEWLINK putting device `index` in this run's group. */
  mark(index: number, seq: number): Buffer {
    return frame(RTM.NEWLINK, NLM_F.ACK, seq, linkChangeBody({ index, group: this.group }));
  }

  /** RTM_DELLINK of every device in the group: the marked ones. */
  deleteAll(seq: number): Buffer {
    return frame(RTM.DELLINK, NLM_F.ACK, seq, groupDeleteBody(this.group));
  }

  get full(): boolean {
    return this.ops.length >= MAX_LINKS_PER_GROUP;
  }
}
