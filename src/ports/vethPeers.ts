// The host-side ends of workloads' veths: a port the kernel implements
// (src/kernel/rtnl/vethPeers.ts) and a workload source uses.

import type { NetnsLocator } from '../tc/model';

/** A device inside a workload's namespace: its end of a veth. */
export interface WorkloadEnd {
  readonly netns: NetnsLocator;
  readonly dev: string;
}

/**
 * The other ends, in the Host's namespace, of workloads' veths, as the kernel pairs them
 * (IFLA_LINK on each end): for a source whose runtime does not report them (Docker). Sluice
 * hooks those ports so that traffic between two workloads on the bridge is shaped
 * (compile/ports.ts). Keyed by `endKey`; an end that is gone or no veth into `hostNetns` is absent.
 */
export interface VethPeers {
  hostEnds(ends: readonly WorkloadEnd[], hostNetns: NetnsLocator): Promise<ReadonlyMap<string, string>>;
}

export const endKey = (end: WorkloadEnd): string => `${end.netns} ${end.dev}`;
