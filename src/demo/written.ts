// The demo's judge: the oracle fed with the policy document as its author wrote it (parsed
// and validated, never compiled), so what the kernel is told and what the verdict
// expects come from separate paths. Tests go further and read their own policy text.
import { allocateTree } from '../allocate/hierarchy';
import { allocate } from '../allocate/oracle';
import { writtenJudge, type Judge, type WrittenPolicy } from '../measure/judge';
import { writtenTreeJudge, type WrittenTree } from '../measure/treeJudge';
import type { Policy } from '../policy/model';

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

/** The flat oracle for a flat policy; with groups (policies/tenants.yaml beside demo.yaml), the hierarchical one. */
export const policyJudge = (policy: Policy): Judge => (policy.groups.length > 0 ? writtenTreeJudge(writtenTree(policy), allocateTree) : writtenJudge(writtenPolicy(policy), allocate));
