// Workloads found running and not shaped, as status and inspect print them.
import type { UnshapedWorkload } from '../../sources/source';

export function formatUnshaped(unshaped: readonly UnshapedWorkload[]): string {
  return [`not shaped (${unshaped.length}):`, ...unshaped.map(describeUnshaped)].join('\n');
}

export const describeUnshaped = (u: UnshapedWorkload): string => `  ${u.source} ${u.workload}: ${u.reason}: ${u.detail}`;
