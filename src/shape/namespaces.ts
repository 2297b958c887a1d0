// Which containers live in a namespace of their own (a veth on the bridge), and where:
// read by the tree, the footprint and the applier's port count. Pure.

import type { ContainerPolicy, Policy } from '../policy/model';
import type { NetnsLocator } from '../tc/model';

export const hasOwnNamespace = (c: ContainerPolicy): boolean => c.match.kind === 'managed' || c.match.kind === 'netns-path' || c.match.kind === 'pid';

/** A Linux bridge's ports (BR_MAX_PORTS is 1,024 with port 0 reserved): the 1,024th fails with EXFULL. */
export const BRIDGE_MAX_PORTS = 1023;

/** The ports the policy needs on the bridge Sluice owns: a veth for each container in a namespace of its own. */
export function bridgePortsNeeded(policy: Policy): number {
  if (policy.host.external) return 0;
  let ports = 0;
  for (const c of policy.containers) if (hasOwnNamespace(c)) ports++;
  return ports;
}

export function containerNetns(c: ContainerPolicy): NetnsLocator {
  switch (c.match.kind) {
    case 'managed':
      return c.match.netns;
    case 'netns-path':
      return c.match.path;
    case 'pid':
      return `/proc/${c.match.pid}/ns/net`;
    default:
      throw new Error(`container ${c.name} has no namespace of its own`);
  }
}
