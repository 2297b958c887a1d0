// A filter's actions (TCA_*_ACT): a list of nested attributes, one per action in order,
// each naming its kind (TCA_ACT_KIND) and carrying that kind's options. One codec per kind.

import { assertNever, type ActionSpec } from '../../../tc/model';
import { attrOf, nestedPlain, parseAttrs, readString, stringAttr } from '../attrs';
import { TCA_ACT } from '../constants';
import { isDecodeError, malformed, unknownKind, type ActionCodec, type Decoded, type TcDecodeContext, type TcEncodeContext } from './codec';
import { mirredAction } from './mirred';

const ACTIONS: { readonly [K in ActionSpec['kind']]: ActionCodec<Extract<ActionSpec, { kind: K }>> } = { mirred: mirredAction };

/** Actions are numbered from 1: the kernel runs them in that order. */
const FIRST_ACTION = 1;

export function encodeActions(actions: readonly ActionSpec[], ctx: TcEncodeContext, type: number): Buffer {
  return nestedPlain(
    type,
    actions.map((a, i) => nestedPlain(FIRST_ACTION + i, [stringAttr(TCA_ACT.KIND, a.kind), nestedPlain(TCA_ACT.OPTIONS, [encodeAction(a, ctx)])])),
  );
}

function encodeAction(a: ActionSpec, ctx: TcEncodeContext): Buffer {
  switch (a.kind) {
    case 'mirred':
      return ACTIONS.mirred.encode(a, ctx);
    default:
      return assertNever(a.kind);
  }
}

/** Every action of the list, or the first that cannot be read. */
export function decodeActions(list: Buffer, ctx: TcDecodeContext): Decoded<ActionSpec[]> {
  const out: ActionSpec[] = [];
  for (const { payload } of parseAttrs(list)) {
    const kind = readString(attrOf(payload, TCA_ACT.KIND)) ?? '';
    const options = attrOf(payload, TCA_ACT.OPTIONS);
    if (!options) return malformed('action', kind, 'no TCA_ACT_OPTIONS');
    const a = kind in ACTIONS ? ACTIONS[kind as ActionSpec['kind']].decode(options, ctx) : unknownKind('action', kind);
    if (isDecodeError(a)) return a;
    out.push(a);
  }
  return out;
}
