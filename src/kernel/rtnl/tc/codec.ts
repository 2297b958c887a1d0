// What a tc codec is: one per kind, encoding a spec to its TCA_OPTIONS attribute and
// decoding the options the kernel reports back. Decoders are total: what they cannot
// read is a TcDecodeError value naming the object, the kind and why, never `undefined`.

/** What encoding needs from the world. */
export interface TcEncodeContext {
  ifindexOf(dev: string): number;
  bpfProgram(program: 'netcls-classid'): { readonly fd: number; readonly name: string };
}

export interface TcDecodeContext {
  devOf(ifindex: number): string | undefined;
}

export type TcObjectType = 'qdisc' | 'class' | 'filter' | 'action';

/** Why a decoder could not read what the kernel reported. */
export type TcDecodeReason =
  /** A kind Sluice has no codec for (someone else's qdisc, filter or action). */
  | 'unknown-kind'
  /** A kind Sluice knows, with options it did not write (e.g. a BPF program it did not load). */
  | 'not-sluice'
  /** Options too short or missing what the kind requires. */
  | 'malformed';

export class TcDecodeError {
  constructor(
    readonly object: TcObjectType,
    readonly kind: string,
    readonly reason: TcDecodeReason,
    readonly detail: string,
  ) {}

  get message(): string {
    return `${this.object} of kind "${this.kind}": ${this.detail}`;
  }
}

export const unknownKind = (object: TcObjectType, kind: string): TcDecodeError =>
  new TcDecodeError(object, kind, 'unknown-kind', `Sluice has no codec for this kind, so it treats the ${object} as foreign and replaces or removes it`);

export const malformed = (object: TcObjectType, kind: string, detail: string): TcDecodeError => new TcDecodeError(object, kind, 'malformed', detail);

/** A spec, or why there is none. */
export type Decoded<S> = S | TcDecodeError;

export const isDecodeError = <S>(d: Decoded<S>): d is TcDecodeError => d instanceof TcDecodeError;

/** A qdisc kind: its spec ⇄ the TCA_OPTIONS attribute (none for kinds without options). */
export interface QdiscCodec<S> {
  encode(spec: S): Buffer | undefined;
  /** `options`: the TCA_OPTIONS payload, if the kernel sent one. */
  decode(options: Buffer | undefined): Decoded<S>;
}

/** A filter kind; `handle` is the filter's own (u32 encodes its table and bucket from it). */
export interface FilterCodec<S> {
  encode(spec: S, handle: number, ctx: TcEncodeContext): Buffer;
  decode(options: Buffer | undefined, ctx: TcDecodeContext): Decoded<S>;
}

/** An action kind: its spec ⇄ the payload of TCA_ACT_OPTIONS. */
export interface ActionCodec<S> {
  encode(spec: S, ctx: TcEncodeContext): Buffer;
  decode(options: Buffer, ctx: TcDecodeContext): Decoded<S>;
}
