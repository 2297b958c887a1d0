// A netlink socket bound inside one network namespace. The native addon opens it on a
// thread that enters the namespace and comes straight back, so Node itself never
// changes namespace; after that the socket works from any thread.

import type { NetnsLocator } from '../../tc/model';

export interface NetlinkChannel {
  readonly netns: NetnsLocator;
  /**
   * Sends framed netlink messages (each carrying NLM_F_REQUEST and NLM_F_ACK, or a dump
   * flag) and resolves with every message the kernel answered, in arrival order, once
   * each of `seqs` has its final answer: an NLMSG_ERROR (ack or error) or NLMSG_DONE.
   * Large batches are split into datagrams that fit the socket buffers; dump requests run
   * one after another, each read to its end before the next is sent (the kernel runs one
   * dump at a time per socket).
   */
  exchange(messages: readonly Buffer[], seqs: readonly number[]): Promise<Buffer[]>;
  close(): void;
}

/** Whether anything Sluice observes in a namespace changed since the last time it asked. */
export interface ChangeWatch {
  /**
   * True if the kernel announced a change to a link, an IPv4 address or route, or a tc
   * object since the previous call (or since the watch opened), or lost announcements.
   */
  changed(): boolean;
  close(): void;
}

export interface NetlinkChannelFactory {
  /** NETLINK_ROUTE socket in `netns`; rejects with a typed error if the namespace is missing. */
  open(netns: NetnsLocator): Promise<NetlinkChannel>;
  /** Starts listening to `netns`'s change announcements; throws a typed error if it is missing. */
  watch?(netns: NetnsLocator): ChangeWatch;
}
