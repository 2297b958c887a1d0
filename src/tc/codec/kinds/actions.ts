// tc actions inside a classifier (TCA_U32_ACT / TCA_BPF_ACT): a list of nests numbered
// from 1 (the order they run), each with TCA_ACT_KIND and TCA_ACT_OPTIONS.

import { assertNever, type ActionSpec } from '../../model';
import { attrMap, nest, parseAttrs, readString, stringAttr } from '../attrs';
import { TC_ACT, TCA_ACT, TCA_EGRESS_MIRROR, TCA_EGRESS_REDIR, TCA_GACT_PARMS, TCA_MIRRED_PARMS } from '../constants';

/** struct tc_gen: index, capab, action, refcnt, bindcnt */
const TC_GEN_SIZE = 20;
const TC_MIRRED_SIZE = TC_GEN_SIZE + 8;
const GEN_ACTION = 8;

export interface ActionContext {
  ifindexOf(dev: string): number;
}
export interface ActionDecodeContext {
  devOf(ifindex: number): string | undefined;
}

const GACT_VERDICT: Record<'ok' | 'drop' | 'pipe', number> = { ok: TC_ACT.OK, drop: TC_ACT.SHOT, pipe: TC_ACT.PIPE };

function encodeAction(action: ActionSpec, ctx: ActionContext): Buffer[] {
  switch (action.kind) {
    case 'mirred': {
      const p = Buffer.alloc(TC_MIRRED_SIZE);
      const redirect = action.action === 'egress-redirect';
      // A redirect consumes the packet (STOLEN); a mirror lets it continue (PIPE), as tc does.
      p.writeInt32LE(redirect ? TC_ACT.STOLEN : TC_ACT.PIPE, GEN_ACTION);
      p.writeInt32LE(redirect ? TCA_EGRESS_REDIR : TCA_EGRESS_MIRROR, TC_GEN_SIZE);
      p.writeUInt32LE(ctx.ifindexOf(action.targetDev), TC_GEN_SIZE + 4);
      return [stringAttr(TCA_ACT.KIND, 'mirred'), nest(TCA_ACT.OPTIONS, [nest(TCA_MIRRED_PARMS, [p])])];
    }
    case 'gact': {
      const p = Buffer.alloc(TC_GEN_SIZE);
      p.writeInt32LE(GACT_VERDICT[action.action], GEN_ACTION);
      return [stringAttr(TCA_ACT.KIND, 'gact'), nest(TCA_ACT.OPTIONS, [nest(TCA_GACT_PARMS, [p])])];
    }
    default:
      return assertNever(action);
  }
}

export function encodeActions(actions: readonly ActionSpec[], ctx: ActionContext): Buffer {
  return Buffer.concat(actions.map((a, i) => nest(i + 1, encodeAction(a, ctx))));
}

function decodeAction(payload: Buffer, ctx: ActionDecodeContext): ActionSpec | undefined {
  const a = attrMap(payload);
  const kind = readString(a.get(TCA_ACT.KIND));
  const options = a.get(TCA_ACT.OPTIONS);
  const parms = options ? attrMap(options).get(TCA_MIRRED_PARMS) : undefined; // same number for gact
  if (!parms || parms.length < TC_GEN_SIZE) return undefined;
  if (kind === 'mirred' && parms.length >= TC_MIRRED_SIZE) {
    const eaction = parms.readInt32LE(TC_GEN_SIZE);
    const dev = ctx.devOf(parms.readUInt32LE(TC_GEN_SIZE + 4)) ?? `ifindex:${parms.readUInt32LE(TC_GEN_SIZE + 4)}`;
    return { kind: 'mirred', action: eaction === TCA_EGRESS_REDIR ? 'egress-redirect' : 'egress-mirror', targetDev: dev };
  }
  if (kind === 'gact') {
    const verdict = parms.readInt32LE(GEN_ACTION);
    const action = verdict === TC_ACT.SHOT ? 'drop' : verdict === TC_ACT.PIPE ? 'pipe' : 'ok';
    return { kind: 'gact', action };
  }
  return undefined;
}

export function decodeActions(payload: Buffer, ctx: ActionDecodeContext): ActionSpec[] {
  return parseAttrs(payload)
    .sort((x, y) => x.type - y.type)
    .map((a) => decodeAction(a.payload, ctx))
    .filter((a): a is ActionSpec => a !== undefined);
}
