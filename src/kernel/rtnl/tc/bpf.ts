// The bpf classifier (cls_bpf) running Sluice's own program: TCA_BPF_* attributes, from
// pkt_cls.h. A program is sent as a file descriptor and reported back by name.

import { asHandle } from '../../../tc/handle';
import type { FilterSpec } from '../../../tc/model';
import { attrOf, nestedPlain, readString, readU32, stringAttr, u32Attr } from '../attrs';
import { TCA, TCA_BPF, TCA_BPF_FLAG_ACT_DIRECT } from '../constants';
import { malformed, TcDecodeError, type FilterCodec } from './codec';

/** The name Sluice loads its net_cls program under (the kernel may add a suffix when reporting it). */
export const NETCLS_PROGRAM_NAME = 'sl_netcls';

export const bpfFilter: FilterCodec<Extract<FilterSpec, { kind: 'bpf' }>> = {
  encode: (spec, _handle, ctx) => {
    const prog = ctx.bpfProgram(spec.program);
    const parts = [u32Attr(TCA_BPF.FD, prog.fd), stringAttr(TCA_BPF.NAME, prog.name), u32Attr(TCA_BPF.FLAGS, spec.directAction ? TCA_BPF_FLAG_ACT_DIRECT : 0)];
    if (spec.classid !== undefined) parts.push(u32Attr(TCA_BPF.CLASSID, spec.classid));
    return nestedPlain(TCA.OPTIONS, parts);
  },
  decode: (options) => {
    if (!options) return malformed('filter', 'bpf', 'no TCA_OPTIONS');
    const name = readString(attrOf(options, TCA_BPF.NAME)) ?? '';
    if (!name.startsWith(NETCLS_PROGRAM_NAME)) return new TcDecodeError('filter', 'bpf', 'not-sluice', `BPF program "${name}" is not one Sluice loaded, so it treats the filter as foreign`);
    const classid = readU32(attrOf(options, TCA_BPF.CLASSID));
    const flags = readU32(attrOf(options, TCA_BPF.FLAGS)) ?? 0;
    return { kind: 'bpf', program: 'netcls-classid', directAction: (flags & TCA_BPF_FLAG_ACT_DIRECT) !== 0, ...(classid !== undefined ? { classid: asHandle(classid) } : {}) };
  },
};
