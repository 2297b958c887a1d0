// The host-side end of a workload's veth, from the kernel: the workload's end names its
// peer by index (IFLA_LINK), and the Host's namespace has a device of that index whose own
// IFLA_LINK names the workload's end back. Sockets are opened for the lookup and closed
// after it: one left in a container's namespace would keep that namespace, and the veth
// pair with it, alive after the container stops.

import type { NetlinkChannelFactory } from '../netlink/channel';
import { nativeChannelFactory } from '../netlink/nativeChannel';
import type { NetnsLocator } from '../../tc/model';
import { endKey, type VethPeers, type WorkloadEnd } from '../../ports/vethPeers';
import type { LinkInfo } from './messages';
import { NetnsSession } from './session';

export class RtnlVethPeers implements VethPeers {
  constructor(private readonly factory: NetlinkChannelFactory = nativeChannelFactory) {}

  async hostEnds(ends: readonly WorkloadEnd[], hostNetns: NetnsLocator): Promise<ReadonlyMap<string, string>> {
    const found = new Map<string, string>();
    if (ends.length === 0) return found;
    const hostLinks = await this.withSession(hostNetns, (s) => s.linkList());
    const byIndex = new Map(hostLinks.map((l) => [l.index, l]));
    const inside = await Promise.all(ends.map((end) => this.withSession(end.netns, async (s) => (await s.lookUp([end.dev])).get(end.dev)).catch(() => undefined)));
    ends.forEach((end, i) => {
      const host = hostEndOf(inside[i], byIndex);
      if (host !== undefined) found.set(endKey(end), host);
    });
    return found;
  }

  private async withSession<T>(netns: NetnsLocator, use: (s: NetnsSession) => Promise<T>): Promise<T> {
    const session = new NetnsSession(await this.factory.open(netns));
    try {
      return await use(session);
    } finally {
      session.close();
    }
  }
}

/** The host device paired with `inner`, when each names the other. */
function hostEndOf(inner: LinkInfo | undefined, hostByIndex: ReadonlyMap<number, LinkInfo>): string | undefined {
  if (inner?.peerIndex === undefined) return undefined;
  const host = hostByIndex.get(inner.peerIndex);
  return host?.peerIndex === inner.index ? host.name : undefined;
}
