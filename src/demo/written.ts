// The demo's judge: the oracle fed with the policy document as its author wrote it (parsed
// and validated, never compiled), so what the kernel is told and what the verdict
// expects come from separate paths. Tests go further and read their own policy text.
import { allocate } from '../allocate/oracle';
import { writtenJudge, type Judge, type WrittenPolicy } from '../measure/judge';
import type { Policy } from '../policy/model';

/** A policy's containers and link as its documents state them (labels and annotations included, for Docker and CNI). */
export function writtenPolicy(policy: Policy): WrittenPolicy {
  return {
    capacity: policy.host.capacity,
    containers: policy.containers.map((c) => ({ name: c.name, download: c.bandwidth.download, upload: c.bandwidth.upload })),
  };
}

export const policyJudge = (policy: Policy): Judge => writtenJudge(writtenPolicy(policy), allocate);
