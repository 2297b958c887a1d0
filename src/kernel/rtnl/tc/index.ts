// The tc codecs, one module per kind in this folder (see registry.ts); what the rest of
// the kernel port uses of them.

export { decodeClassOptions, decodeFilterOptions, decodeQdiscOptions, encodeFilterOptions, encodeQdiscOptions } from './registry';
export { decodeHtbXstats, encodeHtbClass } from './htb';
export { decodeCounters, statsApp } from './stats';
export { NETCLS_PROGRAM_NAME } from './bpf';
export { isDecodeError, TcDecodeError, type TcDecodeContext, type TcEncodeContext } from './codec';
export { tcMessage } from './message';
