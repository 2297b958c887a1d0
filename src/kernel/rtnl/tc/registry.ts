// tc objects ⇄ the attributes of RTM_*QDISC/TCLASS/TFILTER messages: one codec per kind
// (a module each in this folder), in one table per object type, so adding a kind is a
// module and a line here; a kind added to the model without a codec does not compile.

import { assertNever, type FilterKind, type FilterSpec, type HtbClassSpec, type QdiscKind, type QdiscSpec } from '../../../tc/model';
import { clsactQdisc, fqCodelQdisc, ingressQdisc } from './bare';
import { bpfFilter } from './bpf';
import { unknownKind, type Decoded, type FilterCodec, type QdiscCodec, type TcDecodeContext, type TcEncodeContext } from './codec';
import { decodeHtbClass, htbQdisc } from './htb';
import { pfifoQdisc } from './pfifo';
import { sfqQdisc } from './sfq';
import { u32Filter } from './u32';

type Of<S extends { kind: string }, K> = Extract<S, { kind: K }>;

const QDISCS: { readonly [K in QdiscKind]: QdiscCodec<Of<QdiscSpec, K>> } = {
  htb: htbQdisc,
  ingress: ingressQdisc,
  clsact: clsactQdisc,
  pfifo: pfifoQdisc,
  fq_codel: fqCodelQdisc,
  sfq: sfqQdisc,
};

const FILTERS: { readonly [K in FilterKind]: FilterCodec<Of<FilterSpec, K>> } = { u32: u32Filter, bpf: bpfFilter };

const isQdiscKind = (kind: string): kind is QdiscKind => Object.hasOwn(QDISCS, kind);
const isFilterKind = (kind: string): kind is FilterKind => Object.hasOwn(FILTERS, kind);

/** The TCA_KIND and TCA_OPTIONS of a qdisc Sluice creates. */
export function encodeQdiscOptions(spec: QdiscSpec): { kind: string; options?: Buffer } {
  if (spec.kind === 'foreign') throw new Error(`a foreign qdisc (${spec.tcKind}) is only ever observed, never created`);
  const options = (QDISCS[spec.kind] as QdiscCodec<typeof spec>).encode(spec);
  return options ? { kind: spec.kind, options } : { kind: spec.kind };
}

export function decodeQdiscOptions(kind: string, options: Buffer | undefined): Decoded<QdiscSpec> {
  return isQdiscKind(kind) ? QDISCS[kind].decode(options) : unknownKind('qdisc', kind);
}

/** HTB is the one class kind Sluice creates. */
export function decodeClassOptions(kind: string, options: Buffer | undefined): Decoded<HtbClassSpec> {
  return kind === 'htb' ? decodeHtbClass(options) : unknownKind('class', kind);
}

/** TCA_KIND + TCA_OPTIONS of a filter Sluice creates. */
export function encodeFilterOptions(spec: FilterSpec, handle: number, ctx: TcEncodeContext): { kind: string; options: Buffer } {
  switch (spec.kind) {
    case 'u32':
      return { kind: spec.kind, options: FILTERS.u32.encode(spec, handle, ctx) };
    case 'bpf':
      return { kind: spec.kind, options: FILTERS.bpf.encode(spec, handle, ctx) };
    case 'foreign':
      throw new Error(`a foreign filter (${spec.tcKind}) is only ever observed, never created`);
    default:
      return assertNever(spec);
  }
}

export function decodeFilterOptions(kind: string, options: Buffer | undefined, ctx: TcDecodeContext): Decoded<FilterSpec> {
  return isFilterKind(kind) ? FILTERS[kind].decode(options, ctx) : unknownKind('filter', kind);
}
