// The request for one qdisc, class or filter operation: which message, which flags
// (create is exclusive, a change replaces), and the kind's options from its codec.

import type { Operation } from '../../../tc/operation';
import { kindName } from '../../../tc/describe';
import { assertNever, type ClassObject, type FilterObject, type QdiscObject } from '../../../tc/model';
import { NLM_F, RTM } from '../constants';
import { filterInfo, frame, tcBody } from '../messages';
import type { TcEncodeContext } from './codec';
import { encodeHtbClass } from './htb';
import { encodeFilterOptions, encodeQdiscOptions } from './registry';
import { u32CreateHandle, u32DeleteHandle } from './u32handles';

/** The request for a qdisc, class or filter operation on the device with index `ifindex`. */
export function tcMessage(op: Operation, o: QdiscObject | ClassObject | FilterObject, ifindex: number, seq: number, ctx: TcEncodeContext): Buffer {
  const create = NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
  const replace = NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE;
  switch (o.type) {
    case 'qdisc': {
      const h = { ifindex, handle: o.handle, parent: o.parent, info: 0 };
      if (op.op === 'delete') return frame(RTM.DELQDISC, NLM_F.ACK, seq, tcBody(h, undefined));
      const { kind, options } = encodeQdiscOptions(o.spec);
      return frame(RTM.NEWQDISC, op.op === 'create' ? create : replace, seq, tcBody(h, kind, options));
    }
    case 'class': {
      const h = { ifindex, handle: o.classid, parent: o.parent, info: 0 };
      if (op.op === 'delete') return frame(RTM.DELTCLASS, NLM_F.ACK, seq, tcBody(h, undefined));
      return frame(RTM.NEWTCLASS, op.op === 'create' ? create : NLM_F.ACK, seq, tcBody(h, 'htb', encodeHtbClass(o.spec)));
    }
    case 'filter': {
      const u32 = o.spec.kind === 'u32';
      const info = filterInfo(o.prio, o.protocol);
      if (op.op === 'delete') return frame(RTM.DELTFILTER, NLM_F.ACK, seq, tcBody({ ifindex, handle: u32 ? u32DeleteHandle(o, o.handle) : o.handle, parent: o.parent, info }, kindName(o.spec)));
      const h = { ifindex, handle: u32 ? u32CreateHandle(o.handle) : o.handle, parent: o.parent, info };
      const { kind, options } = encodeFilterOptions(o.spec, o.handle, ctx);
      return frame(RTM.NEWTFILTER, op.op === 'create' ? create : replace, seq, tcBody(h, kind, options));
    }
    default:
      return assertNever(o);
  }
}
