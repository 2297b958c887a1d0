// What a policy covers without compiling its trees: enough to know what to observe. Pure.

import type { Policy } from '../policy/model';
import type { ExternalDevice, NamespaceObject, NetnsLocator, SysctlObject } from '../tc/model';
import { hostPlumbing, namespaceObject, workloadDevices } from './topology';
import { hasOwnNamespace, containerNetns } from '../shape/namespaces';

/** What a policy covers, without compiling its trees: enough to know what to observe. */
export interface PolicyFootprint {
  /** Every namespace it puts objects in (host, managed and attached containers). */
  readonly netns: readonly NetnsLocator[];
  /** The namespaces it creates. */
  readonly namespaces: readonly NamespaceObject[];
  readonly sysctls: readonly SysctlObject[];
  /** Devices it shapes but does not own (an external bridge, a workload's devices): never deleted, their addresses left alone. */
  readonly external: readonly ExternalDevice[];
}

export function policyFootprint(policy: Policy): PolicyFootprint {
  const host = hostPlumbing(policy.host);
  const own = policy.containers.filter(hasOwnNamespace);
  const managed = own.filter((c) => c.match.kind === 'managed').map((c): NamespaceObject => namespaceObject(policy.host, containerNetns(c)));
  const devices = policy.containers.flatMap((c) => (c.workload ? workloadDevices(c.workload, policy.host.netns) : []));
  const external = [...host.links.filter((l) => l.spec.kind === 'external' && l.name !== 'lo').map((l) => ({ netns: l.netns, dev: l.name })), ...devices];
  const workloadNetns = devices.filter((d) => d.netns !== policy.host.netns).map((d) => d.netns);
  return { netns: [policy.host.netns, ...own.map(containerNetns), ...workloadNetns], namespaces: [...host.namespaces, ...managed], sysctls: host.sysctls, external };
}
