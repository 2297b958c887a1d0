// The contract between the pure tc model and the wire: one codec per kind, registered
// in one table (src/tc/codec/registry.ts), so adding a kind touches one file.
// A codec turns a model object into the fields of a `struct tcmsg` plus its attributes,
// and back. It never sends anything; the kernel port does.

import type { NetnsLocator } from '../model';

/** A tc message as it travels: struct tcmsg fields + the attributes Sluice reads/writes. */
export interface TcWireMessage {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  /** For filters: (prio << 16) | htons(protocol); 0 for qdiscs and classes. */
  readonly info: number;
  /** TCA_KIND */
  readonly kind: string;
  /** TCA_OPTIONS payload (nested attributes, already encoded). */
  readonly options?: Buffer;
  /** TCA_STATS2 payload, on dumps. */
  readonly stats2?: Buffer;
  /** TCA_XSTATS payload, on dumps. */
  readonly xstats?: Buffer;
}

/** What encoding needs from the world: device indexes and loaded BPF programs. */
export interface EncodeContext {
  ifindexOf(dev: string): number;
  /** File descriptor of a loaded Sluice BPF program, and the name to record with it. */
  bpfProgram(program: 'netcls-classid'): { readonly fd: number; readonly name: string };
}

/** What decoding needs: the namespace being dumped and names for device indexes. */
export interface DecodeContext {
  readonly netns: NetnsLocator;
  devOf(ifindex: number): string | undefined;
}

/*
 * src/tc/codec/index.ts exports (the kernel port uses only these):
 *   encodeQdisc(q: QdiscObject, ctx: EncodeContext): TcWireMessage
 *   decodeQdisc(msg: TcWireMessage, ctx: DecodeContext): QdiscObject | undefined   (undefined: a kind Sluice does not model)
 *   encodeClass(c: ClassObject, ctx: EncodeContext): TcWireMessage
 *   decodeClass(msg: TcWireMessage, ctx: DecodeContext): ClassObject | undefined
 *   encodeFilter(f: FilterObject, ctx: EncodeContext): TcWireMessage
 *   decodeFilter(msg: TcWireMessage, ctx: DecodeContext): FilterObject | undefined
 *   decodeCounters(stats2: Buffer): TcCounters
 *   decodeHtbXstats(xstats: Buffer): HtbXstats
 */
