// One namespace's netlink socket plus what requests need: sequence numbers, the
// device-name ↔ ifindex cache (filled by dumps and by single lookups), replies matched to requests.

import { KernelError } from '../../errors';
import type { NetlinkChannel } from '../netlink/channel';
import { errnoName } from './errno';
import { stringAttr } from './attrs';
import { IFLA, LOOPBACK_IFINDEX, NLM_F, NLMSG, RTM } from './constants';
import { frame, header, isError, linkDumpBody, parseError, parseLink, type LinkInfo, type NlError } from './messages';

/** nlmsghdr: u32 len, u16 type, u16 flags, u32 seq. */
const NLMSG_TYPE_OFFSET = 4;
const NLMSG_SEQ_OFFSET = 8;

const LOOPBACK = 'lo';

/** What each dump reads, as a refusal names it. */
const DUMPED: Readonly<Record<number, string>> = {
  [RTM.GETLINK]: 'links (RTM_GETLINK)',
  [RTM.GETADDR]: 'addresses (RTM_GETADDR)',
  [RTM.GETROUTE]: 'routes (RTM_GETROUTE)',
  [RTM.GETQDISC]: 'qdiscs (RTM_GETQDISC)',
  [RTM.GETTCLASS]: 'classes (RTM_GETTCLASS)',
  [RTM.GETTFILTER]: 'filters (RTM_GETTFILTER)',
};

let nextSeq = 1;
export const allocSeq = (): number => {
  nextSeq = nextSeq >= 0x7fffffff ? 1 : nextSeq + 1;
  return nextSeq;
};

export interface DumpRequest {
  /** RTM_GET…; sent with NLM_F_DUMP. */
  readonly type: number;
  readonly body: Buffer;
}

/** One dump's answers: its replies, or the kernel's refusal (errno ≠ 0). */
export type DumpAnswer = { readonly replies: Buffer[] } | { readonly refusal: NlError };

/**
 * The answers of one exchange, split per dump request by sequence number: a dump of
 * RTM_GETX answers with RTM_NEWX messages (GET = NEW + 2); NLMSG_DONE, other types and
 * answers to no request asked here are dropped; a request's first NLMSG_ERROR with an
 * errno is its refusal. Header fields are read in place: a dump of 10,000 classes should
 * not build 20,000 header objects.
 */
export function groupDumpAnswers(replies: readonly Buffer[], asked: readonly { readonly type: number; readonly seq: number }[]): DumpAnswer[] {
  const bySeq = new Map(asked.map((a, i) => [a.seq, i]));
  const out: Buffer[][] = asked.map(() => []);
  const errors: (Buffer | undefined)[] = asked.map(() => undefined);
  for (const r of replies) {
    const i = bySeq.get(r.readUInt32LE(NLMSG_SEQ_OFFSET));
    if (i === undefined) continue;
    const t = r.readUInt16LE(NLMSG_TYPE_OFFSET);
    if (t === asked[i]!.type - 2) out[i]!.push(r);
    else if (t === NLMSG.ERROR) errors[i] ??= r;
  }
  return out.map((replies, i) => {
    const error = errors[i];
    const refusal = error ? parseError(error) : undefined;
    return refusal && refusal.errno !== 0 ? { refusal } : { replies };
  });
}

export class NetnsSession {
  private links: LinkInfo[] | undefined;
  /** Indexes of devices looked up by name since the last full dump (no dump per lookup). */
  private readonly byName = new Map<string, number>();

  constructor(readonly channel: NetlinkChannel) {}

  /** Replies of one dump request (NLMSG_DONE and errors excluded; an error rejects). */
  async dump(type: number, body: Buffer): Promise<Buffer[]> {
    return (await this.dumps([{ type, body }]))[0]!;
  }

  /**
   * Replies of each dump request, in order, all in one exchange (one trip through the
   * addon's thread pool instead of one each: a read of a host namespace with 100 pods is
   * 100-200 dumps). Rejects with the refusal of the first refused request, in request order,
   * as one `dump` after another would have.
   */
  async dumps(requests: readonly DumpRequest[]): Promise<Buffer[][]> {
    if (requests.length === 0) return [];
    const asked = requests.map((r) => ({ type: r.type, seq: allocSeq() }));
    const replies = await this.channel.exchange(
      requests.map((r, i) => frame(r.type, NLM_F.DUMP, asked[i]!.seq, r.body)),
      asked.map((a) => a.seq),
    );
    return groupDumpAnswers(replies, asked).map((answer, i) => {
      if ('replies' in answer) return answer.replies;
      const type = asked[i]!.type;
      throw new KernelError(answer.refusal.errno, errnoName(answer.refusal.errno), 'dump', DUMPED[type] ?? `RTM type ${type}`, this.channel.netns, answer.refusal.message);
    });
  }

  /**
   * The links of a dump (RTM_GETLINK, `linkDumpBody`) read elsewhere, as the cache's full
   * list; like linkList, it leaves the indexes learnt by name alone (invalidateLinks drops them).
   */
  adoptLinkDump(replies: readonly Buffer[]): LinkInfo[] {
    this.links = replies.map(parseLink).filter((l): l is LinkInfo => l !== undefined);
    return this.links;
  }

  async linkList(): Promise<LinkInfo[]> {
    return this.links ?? this.adoptLinkDump(await this.dump(RTM.GETLINK, linkDumpBody()));
  }

  invalidateLinks(): void {
    this.links = undefined;
    this.byName.clear();
  }

  /** A device deleted: its index must not be reused from the cache. */
  forgetLink(name: string): void {
    this.byName.delete(name);
    this.links = this.links?.filter((l) => l.name !== name);
  }

  /** The device's index if a dump or an earlier lookup already told it; no request. */
  knownIfindex(name: string): number | undefined {
    // A new container's `lo up` needs no lookup round trip.
    if (name === LOOPBACK) return LOOPBACK_IFINDEX;
    let known = this.byName.get(name);
    if (known === undefined && this.links) {
      known = this.links.find((l) => l.name === name)?.index;
      // Remembered by name: a plan names the same device thousands of times.
      if (known !== undefined) this.byName.set(name, known);
    }
    return known;
  }

  /** The device's index: from the cache, else one RTM_GETLINK by name (not a dump). */
  async ifindex(name: string): Promise<number | undefined> {
    const known = this.knownIfindex(name);
    if (known !== undefined) return known;
    return (await this.lookUp([name])).get(name)?.index;
  }

  /**
   * Devices by name, one RTM_GETLINK each (not a dump), all in one exchange; the ones
   * found are remembered. Absent from the result: no such device.
   */
  async lookUp(names: readonly string[]): Promise<Map<string, LinkInfo>> {
    const seqs = names.map(() => allocSeq());
    const replies = await this.channel.exchange(
      names.map((name, i) => frame(RTM.GETLINK, 0, seqs[i]!, Buffer.concat([linkDumpBody(), stringAttr(IFLA.IFNAME, name)]))),
      seqs,
    );
    const asked = new Set(seqs);
    const found = new Map<string, LinkInfo>();
    for (const r of replies) {
      const h = header(r);
      if (h.type !== RTM.NEWLINK || !asked.has(h.seq)) continue;
      const link = parseLink(r);
      if (!link) continue;
      found.set(link.name, link);
      this.byName.set(link.name, link.index);
    }
    return found;
  }

  /**
   * A device's index learnt elsewhere: a veth end created from another namespace, whose
   * index the other end reports (IFLA_LINK).
   */
  rememberIndex(name: string, index: number): void {
    this.byName.set(name, index);
  }

  /** Sends requests that each carry NLM_F_ACK; returns the errno (and ext-ack text) per seq. */
  async batch(messages: readonly Buffer[], seqs: readonly number[]): Promise<Map<number, NlError>> {
    const replies = await this.channel.exchange(messages, seqs);
    const out = new Map<number, NlError>();
    for (const r of replies) if (isError(r)) out.set(header(r).seq, parseError(r));
    return out;
  }

  close(): void {
    this.channel.close();
  }
}
