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

export class NetnsSession {
  private links: LinkInfo[] | undefined;
  /** Indexes of devices looked up by name since the last full dump (no dump per lookup). */
  private readonly byName = new Map<string, number>();

  constructor(readonly channel: NetlinkChannel) {}

  /** Replies of one dump request (NLMSG_DONE and errors excluded; an error rejects). */
  async dump(type: number, body: Buffer): Promise<Buffer[]> {
    const seq = allocSeq();
    const replies = await this.channel.exchange([frame(type, NLM_F.DUMP, seq, body)], [seq]);
    // A dump of RTM_GETX answers with RTM_NEWX messages (GET = NEW + 2). Header fields are
    // read in place: a dump of 10,000 classes should not build 20,000 header objects.
    const answerType = type - 2;
    const out: Buffer[] = [];
    let err: Buffer | undefined;
    for (const r of replies) {
      if (r.readUInt32LE(NLMSG_SEQ_OFFSET) !== seq) continue;
      const t = r.readUInt16LE(NLMSG_TYPE_OFFSET);
      if (t === answerType) out.push(r);
      else if (t === NLMSG.ERROR) err ??= r;
    }
    if (err) {
      const e = parseError(err);
      if (e.errno !== 0) throw new KernelError(e.errno, errnoName(e.errno), 'dump', DUMPED[type] ?? `RTM type ${type}`, this.channel.netns, e.message);
    }
    return out;
  }

  async linkList(): Promise<LinkInfo[]> {
    if (!this.links) {
      const replies = await this.dump(RTM.GETLINK, linkDumpBody());
      this.links = replies.map(parseLink).filter((l): l is LinkInfo => l !== undefined);
    }
    return this.links;
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
