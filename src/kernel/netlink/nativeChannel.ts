// NetlinkChannel on the native addon: the socket is opened inside the namespace by a
// throwaway thread, and batches run on the libuv pool so the event loop keeps going.

import { KernelError } from '../../errors';
import type { NetnsLocator } from '../../tc/model';
import { closeFd, exchangeNetlink, openNetlinkSocket } from '../native';
import type { NetlinkChannel, NetlinkChannelFactory } from './channel';

const EBADF = 9;

class NativeNetlinkChannel implements NetlinkChannel {
  private closed = false;
  // Two batches on one socket at once would interleave their answers: one at a time.
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly netns: NetnsLocator,
    private readonly fd: number,
  ) {}

  exchange(messages: readonly Buffer[], seqs: readonly number[]): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(this.closedError());
    const result = this.tail.then(() => exchangeNetlink(this.fd, this.netns, messages, seqs));
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

export const nativeChannelFactory: NetlinkChannelFactory = {
  open(netns: NetnsLocator): Promise<NetlinkChannel> {
    try {
      return Promise.resolve(new NativeNetlinkChannel(netns, openNetlinkSocket(netns)));
    } catch (error) {
      return Promise.reject(error);
    }
  },
};
