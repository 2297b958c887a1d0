// One table per object type, keyed by TCA_KIND: adding a kind is one entry here plus its codec.

import type { ClassSpec, FilterSpec, QdiscKind, QdiscSpec } from '../model';
import { decodeHtbClassOptions, encodeHtbClassOptions } from './kinds/htbClass';
import { decodeBpfOptions, decodeU32Options, encodeBpfOptions, encodeU32Options, type FilterEncodeContext } from './kinds/filters';
import type { ActionDecodeContext } from './kinds/actions';
import {
  bfifoCodec,
  clsactCodec,
  fqCodelCodec,
  htbQdiscCodec,
  ingressCodec,
  pfifoCodec,
  sfqCodec,
  tbfCodec,
  type QdiscCodec,
} from './kinds/qdiscs';

export const QDISC_CODECS: { readonly [K in QdiscKind]: QdiscCodec<K> } = {
  htb: htbQdiscCodec,
  ingress: ingressCodec,
  clsact: clsactCodec,
  pfifo: pfifoCodec,
  bfifo: bfifoCodec,
  tbf: tbfCodec,
  fq_codel: fqCodelCodec,
  sfq: sfqCodec,
};

export const isQdiscKind = (kind: string): kind is QdiscKind => Object.prototype.hasOwnProperty.call(QDISC_CODECS, kind);

export function encodeQdiscOptions(spec: QdiscSpec): Buffer | undefined {
  // The mapped table guarantees the codec matches spec.kind; TS cannot correlate the two.
  const codec = QDISC_CODECS[spec.kind] as QdiscCodec<QdiscKind>;
  return codec.encode(spec as never);
}

export function decodeQdiscOptions(kind: QdiscKind, options: Buffer | undefined): QdiscSpec {
  return QDISC_CODECS[kind].decode(options);
}

export interface ClassCodec {
  encode(spec: ClassSpec): Buffer;
  decode(options: Buffer | undefined): ClassSpec | undefined;
}

export const CLASS_CODECS: { readonly [K in ClassSpec['kind']]: ClassCodec } = {
  htb: { encode: encodeHtbClassOptions, decode: decodeHtbClassOptions },
};

type FilterKind = FilterSpec['kind'];

export interface FilterCodec<K extends FilterKind> {
  encode(spec: Extract<FilterSpec, { kind: K }>, ctx: FilterEncodeContext, handle: number): Buffer;
  decode(options: Buffer | undefined, ctx: ActionDecodeContext): Extract<FilterSpec, { kind: K }>;
}

export const FILTER_CODECS: { readonly [K in FilterKind]: FilterCodec<K> } = {
  u32: { encode: encodeU32Options, decode: decodeU32Options },
  bpf: { encode: (spec, ctx) => encodeBpfOptions(spec, ctx), decode: (options) => decodeBpfOptions(options) },
};

export const isFilterKind = (kind: string): kind is FilterKind => Object.prototype.hasOwnProperty.call(FILTER_CODECS, kind);

export function encodeFilterOptions(spec: FilterSpec, ctx: FilterEncodeContext, handle: number): Buffer {
  const codec = FILTER_CODECS[spec.kind] as FilterCodec<FilterKind>;
  return codec.encode(spec as never, ctx, handle);
}
