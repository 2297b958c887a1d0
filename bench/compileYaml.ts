// bench/compile's policy as the YAML an operator writes: the same Host, groups and
// containers as bench/fixtures' syntheticPolicyDirect, so the child of bench/compile can
// run the real file loader (read, parse, schema, admission) before it compiles, as
// `sluice apply` does.
import type { DirectOptions } from './fixtures';

const HOST_CAPACITY = '100gbit';

function hostYaml(dualStack: boolean): string {
  return `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: bench }
spec:
  mode: shared
  netns: sl-bench
  bridge: sl-br0
  ifb: sl-ifb0
  subnet: 198.18.0.0/16
  gateway: 198.18.0.1
${dualStack ? '  subnet6: 2001:2::/64\n' : ''}  capacity: { download: ${HOST_CAPACITY}, upload: ${HOST_CAPACITY} }
`;
}

const groupYaml = (i: number): string => `apiVersion: sluice.dev/v1
kind: Group
metadata: { name: g${i} }
spec:
  download: { ceiling: ${HOST_CAPACITY}, priority: ${i % 8} }
  upload: { ceiling: ${HOST_CAPACITY}, priority: ${i % 8} }
`;

function containerYaml(i: number, groups: number): string {
  const address = `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
  return `apiVersion: sluice.dev/v1
kind: Container
metadata: { name: c${i} }
spec:
  match: { managed: sl-c${i} }
  address: ${address}
${groups > 0 ? `  group: g${i % groups}\n` : ''}  download: { guarantee: 1mbit, ceiling: 1gbit, priority: ${i % 8} }
  upload: { guarantee: 1mbit, ceiling: ${HOST_CAPACITY}, priority: ${i % 8} }
`;
}

/**
 * syntheticPolicyDirect(containers, options)'s policy as YAML files (name → text): the
 * Host, the groups, and the containers in files of 1,000, as a directory of policy
 * files would hold them. Only the options bench/compile passes (groups, dualStack).
 */
export function syntheticPolicyFiles(containers: number, options: Pick<DirectOptions, 'groups' | 'dualStack'> = {}): Map<string, string> {
  const groups = options.groups ?? 0;
  const files = new Map<string, string>([['00-host.yaml', hostYaml(options.dualStack ?? false)]]);
  if (groups > 0) files.set('01-groups.yaml', Array.from({ length: groups }, (_, i) => groupYaml(i)).join('---\n'));
  for (let from = 0; from < containers; from += 1000) {
    const docs = Array.from({ length: Math.min(1000, containers - from) }, (_, k) => containerYaml(from + k, groups));
    files.set(`10-containers-${String(from / 1000).padStart(3, '0')}.yaml`, docs.join('---\n'));
  }
  return files;
}
