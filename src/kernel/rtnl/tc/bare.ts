// Qdisc kinds Sluice creates without options: ingress and clsact (the hooks filters hang
// off) and fq_codel (the kernel's defaults). What the kernel reports in their options
// (fq_codel's parameters) is not part of the model.

import type { QdiscSpec } from '../../../tc/model';
import type { QdiscCodec } from './codec';

type BareKind = 'ingress' | 'clsact' | 'fq_codel';

const bare = <K extends BareKind>(kind: K): QdiscCodec<Extract<QdiscSpec, { kind: K }>> => ({
  encode: () => undefined,
  decode: () => ({ kind }) as Extract<QdiscSpec, { kind: K }>,
});

export const ingressQdisc = bare('ingress');
export const clsactQdisc = bare('clsact');
export const fqCodelQdisc = bare('fq_codel');
