// Applying a window's patches to containers: pure, shared by validation (admission
// during the window) and the scheduler (the policy in force).

import type { ContainerPolicy, SchedulePatch } from './model';
import { DIRECTIONS } from '../tc/model';

export function applyPatches(containers: readonly ContainerPolicy[], patches: readonly SchedulePatch[]): ContainerPolicy[] {
  return containers.map((c) => patches.filter((p) => p.container === c.name).reduce(applyPatch, c));
}

function applyPatch(c: ContainerPolicy, patch: SchedulePatch): ContainerPolicy {
  const bandwidth = { ...c.bandwidth };
  for (const dir of DIRECTIONS) {
    const change = patch.bandwidth[dir];
    if (change) bandwidth[dir] = { ...bandwidth[dir], ...change };
  }
  return { ...c, bandwidth };
}
