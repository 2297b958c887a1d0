// NetlinkChannel on the native addon: the socket is opened inside the namespace by a
// throwaway thread, and batches run on the libuv pool so the event loop keeps going,
// except small ones without dumps (a pod's ADD), run in line: rtnetlink answers those
// inside sendmsg, and the hop to a pool thread and the turn of a busy event loop back
// cost more than the batch.

import { KernelError } from '../../errors';
import type { NetnsLocator } from '../../tc/model';
import { closeFd, drainNetlink, exchangeNetlink, exchangeNetlinkSync, openNetlinkSocket, openNetlinkWatch } from '../native';
import { NLM_F, RTNLGRP } from '../rtnl/constants';
import type { ChangeWatch, NetlinkChannel, NetlinkChannelFactory } from './channel';

const EBADF = 9;
const NLMSG_HDRLEN = 16;
/** A batch up to this size with no dump runs in line (a pod's ADD: ~20 messages, ~3 KiB). */
export const IN_LINE_MAX_BYTES = 16 * 1024;

class NativeNetlinkChannel implements NetlinkChannel {
  private closed = false;
  // Two batches on one socket at once would interleave their answers: one at a time.
  private tail: Promise<unknown> = Promise.resolve();
  /** Batches sent to the pool and not yet answered: an in-line batch waits behind them. */
  private pooled = 0;

  constructor(
    readonly netns: NetnsLocator,
    private readonly fd: number,
  ) {}

  exchange(messages: readonly Buffer[], seqs: readonly number[]): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.pooled === 0 && runsInLine(messages)) {
      try {
        return Promise.resolve(splitAnswers(exchangeNetlinkSync(this.fd, this.netns, messages, seqs)));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.pooled++;
    const result = this.tail.then(async () => splitAnswers(await exchangeNetlink(this.fd, this.netns, messages, seqs))).finally(() => this.pooled--);
    this.tail = result.catch(() => undefined);
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Closing under a running batch could hand its fd number to another socket mid-batch.
    void this.tail.then(() => closeFd(this.fd)).catch(() => undefined);
  }

  private closedError(): KernelError {
    return new KernelError(
      EBADF,
      'EBADF',
      'exchange',
      'netlink channel (already closed)',
      this.netns,
      undefined,
      'open a new channel with the factory; a closed channel cannot be reused',
    );
  }
}

/** A small batch with no dump request: its answers are queued before sendto returns. */
export function runsInLine(messages: readonly Buffer[]): boolean {
  let bytes = 0;
  for (const m of messages) {
    bytes += m.length;
    if (bytes > IN_LINE_MAX_BYTES || isDump(m)) return false;
  }
  return true;
}

/** NLM_F_DUMP on a GET type (its bits mean REPLACE|EXCL on the others): see the addon's AwaitingFor. */
const isDump = (m: Buffer): boolean => {
  const type = m.readUInt16LE(4);
  return type >= RTM_BASE && (type & 3) === 2 && (m.readUInt16LE(6) & NLM_F.DUMP) !== 0;
};
const RTM_BASE = 16;

/**
 * The addon hands the answers back packed, whole messages back to back (each padded to
 * 4 bytes), in as few Buffers as it can; one view per message here costs far less than
 * one Buffer per message made in C++.
 */
export function splitAnswers(packed: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of packed) {
    for (let at = 0; at + NLMSG_HDRLEN <= chunk.length; ) {
      const len = chunk.readUInt32LE(at);
      if (len < NLMSG_HDRLEN || at + len > chunk.length) break;
      out.push(chunk.subarray(at, at + len));
      at += (len + 3) & ~3;
    }
  }
  return out;
}

/** Everything observe reads: links, IPv4 addresses and routes (main table), tc objects. */
const WATCHED_GROUPS = [RTNLGRP.LINK, RTNLGRP.TC, RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_IFADDR, RTNLGRP.IPV6_ROUTE];

class NativeChangeWatch implements ChangeWatch {
  private fd: number | undefined;

  constructor(private readonly netns: NetnsLocator) {
    this.fd = openNetlinkWatch(netns, WATCHED_GROUPS);
  }

  changed(): boolean {
    if (this.fd === undefined) return true;
    const drained = drainNetlink(this.fd, this.netns);
    return drained.messages > 0 || drained.overflowed;
  }

  close(): void {
    if (this.fd !== undefined) closeFd(this.fd);
    this.fd = undefined;
  }
}

export const nativeChannelFactory: NetlinkChannelFactory = {
  watch: (netns: NetnsLocator): ChangeWatch => new NativeChangeWatch(netns),
  open(netns: NetnsLocator): Promise<NetlinkChannel> {
    try {
      return Promise.resolve(new NativeNetlinkChannel(netns, openNetlinkSocket(netns)));
    } catch (error) {
      return Promise.reject(error);
    }
  },
};
