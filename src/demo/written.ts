// The demo's judge: the oracle fed with the policy document as its author wrote it (parsed
// and validated, never compiled), so what the kernel is told and what the verdict
// expects come from separate paths. Tests go further and read their own policy text.
import { flowKey } from '../allocate/destinations';
import { allocateTree } from '../allocate/hierarchy';
import { allocate } from '../allocate/oracle';
import { writtenJudge, type Judge, type WrittenPolicy } from '../measure/judge';
import { writtenTreeJudge, type WrittenTree } from '../measure/treeJudge';
import type { DirectionPolicy, Policy } from '../policy/model';
import { bitsPerSec } from '../units/units';

/** A policy's containers and link as its documents state them (labels and annotations included, for Docker and CNI). */
export function writtenPolicy(policy: Policy): WrittenPolicy {
  return {
    capacity: policy.host.capacity,
    containers: policy.containers.map((c) => ({ name: c.name, download: c.bandwidth.download, upload: c.bandwidth.upload })),
  };
}

/** The same with its groups and each container's group; a group's guarantee only where a document states one. */
export function writtenTree(policy: Policy): WrittenTree {
  return {
    capacity: policy.host.capacity,
    groups: policy.groups.map((g) => ({ name: g.name, ...(g.parent !== undefined ? { parent: g.parent } : {}), download: g.bandwidth.download, upload: g.bandwidth.upload })),
    containers: policy.containers.map((c) => ({ name: c.name, ...(c.group !== undefined ? { group: c.group } : {}), download: c.bandwidth.download, upload: c.bandwidth.upload })),
  };
}

/**
 * A policy with peer sets as a tree: each set a group (its capacity its ceiling, its
 * guarantee left out: its flows' sum), each (container, set) a container of it named
 * flowKey(container, set), with the rates the container states in that set.
 */
export function writtenSetTree(policy: Policy): WrittenTree {
  const sets = policy.host.peers ?? [];
  return {
    capacity: policy.host.capacity,
    groups: sets.map((s) => ({ name: s.name, download: { ceiling: s.capacity.download }, upload: { ceiling: s.capacity.upload } })),
    containers: policy.containers.flatMap((c) =>
      sets.map((s) => {
        const rates = (d: DirectionPolicy) => {
          const r = d.peers?.[s.name];
          return r ? { guarantee: r.guarantee, ceiling: r.ceiling, priority: r.priority } : { guarantee: bitsPerSec(0), priority: d.priority };
        };
        return { name: flowKey(c.name, s.name), group: s.name, download: rates(c.bandwidth.download), upload: rates(c.bandwidth.upload) };
      }),
    ),
  };
}

/**
 * The flat oracle for a flat policy; with groups (policies/tenants.yaml beside demo.yaml)
 * the hierarchical one; with peer sets (the demo's case (a) part) the hierarchical one
 * over the sets, judging each (container, set) flow.
 */
export const policyJudge = (policy: Policy): Judge => {
  if (policy.host.peers !== undefined) return writtenTreeJudge(writtenSetTree(policy), allocateTree);
  return policy.groups.length > 0 ? writtenTreeJudge(writtenTree(policy), allocateTree) : writtenJudge(writtenPolicy(policy), allocate);
};
