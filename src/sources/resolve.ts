// Workload matches → the workloads a source found, with their address on the Host's
// bridge. Pure: the same policy and snapshots always resolve the same way. A workload
// that is not running (yet) waits, reported but not fatal; two policy containers
// claiming one workload is a conflict.

import type { PolicyIssue } from '../policy/issues';
import type { ContainerMatch, ContainerPolicy, DirectionPolicy, GroupDirectionPolicy, Policy, WorkloadSelector } from '../policy/model';
import { isHostAddress, parseSubnet } from '../net/ipv4';
import { canonicalIpv6, inSubnet6, parseSubnet6 } from '../net/ipv6';
import type { ResolvedWorkload, SourceLabel, SourceSnapshot } from './source';

type WorkloadMatch = Extract<ContainerMatch, { kind: 'workload' }>;

/** A policy container that names a workload not shaped now, and why. */
export interface WaitingContainer {
  readonly container: string;
  readonly reason: string;
}

export interface Resolution {
  /** The policy in force: workload matches that resolved carry an address and their workload; the others are left out. */
  readonly policy: Policy;
  readonly waiting: readonly WaitingContainer[];
  /** Conflicts: the policy cannot be applied as it stands. */
  readonly issues: readonly PolicyIssue[];
}

/** A source's snapshot with what messages call its workloads ("Docker container"). */
export interface ReadSource {
  readonly snapshot: SourceSnapshot;
  readonly noun: string;
}

export function resolveWorkloads(policy: Policy, sources: ReadonlyMap<SourceLabel, ReadSource>): Resolution {
  const waiting: WaitingContainer[] = [];
  const issues: PolicyIssue[] = [];
  const claimedBy = new Map<string, ContainerPolicy>();
  const containers: ContainerPolicy[] = [];
  for (const c of policy.containers) {
    if (c.match.kind !== 'workload') {
      containers.push(c);
      continue;
    }
    const source = sources.get(c.match.source);
    const found = source ? resolveOne(policy, c.match, source) : { reason: `the ${c.match.source} source was not read` };
    if ('reason' in found) {
      waiting.push({ container: c.name, reason: found.reason });
      continue;
    }
    const key = `${found.workload.source}:${found.workload.id}`;
    const other = claimedBy.get(key);
    if (other) {
      issues.push(conflict(c, other, found.workload, source!.noun));
      continue;
    }
    claimedBy.set(key, c);
    const joined = joinSourceGroup(policy, c, found.workload);
    if ('issue' in joined) {
      issues.push(joined.issue);
      continue;
    }
    // A dual-stack network gives the workload an IPv6 address too: classified into the same class.
    const address6 = c.address6 ?? address6Of(policy, found.workload);
    containers.push({ ...joined.container, address: found.address, ...(address6 ? { address6 } : {}), workload: found.workload });
  }
  return { policy: { ...policy, containers }, waiting, issues };
}

function resolveOne(policy: Policy, match: WorkloadMatch, source: ReadSource): { workload: ResolvedWorkload; address: string } | { reason: string } {
  const { snapshot, noun } = source;
  const candidates = snapshot.workloads.filter((w) => selects(match, w));
  if (candidates.length === 0) return { reason: `no running ${noun} matches ${describeSelector(match)} at ${snapshot.origin}; shaped as soon as one starts` };
  if (candidates.length > 1) return { reason: `${describeSelector(match)} matches ${candidates.length} running containers (${candidates.map((w) => w.name).join(', ')}); one policy container shapes one ${noun}: match by name, or label each container` };
  const workload = candidates[0]!;
  const address = workload.addresses.v4[0];
  if (!address) {
    return { reason: `${noun} ${workload.name} has no address on bridge ${policy.host.bridge} (its networks: ${workload.placement ?? 'none'}); connect it to the network whose bridge the Host names` };
  }
  if (!isHostAddress(parseSubnet(policy.host.subnet), address)) {
    return { reason: `${noun} ${workload.name} has ${address} on ${policy.host.bridge}, outside the Host subnet ${policy.host.subnet}; make the Host subnet the ${match.source} network's` };
  }
  return { workload, address };
}

/**
 * A workload its source put in a group (a pod in its Kubernetes namespace's) joins it,
 * unless the policy container names a group itself; its ceilings stay within the group's.
 */
function joinSourceGroup(policy: Policy, c: ContainerPolicy, w: ResolvedWorkload): { container: ContainerPolicy } | { issue: PolicyIssue } {
  if (c.group !== undefined || w.group === undefined) return { container: c };
  const group = policy.groups.find((g) => g.name === w.group);
  if (!group) {
    return { issue: { file: c.source.file, line: c.source.line, column: c.source.column, path: 'spec.group', message: `${w.source} workload ${w.name} belongs to group "${w.group}", which no Group document defines`, hint: `add a Group named ${w.group}, or give the container a group of its own` } };
  }
  const within = (d: DirectionPolicy, g: GroupDirectionPolicy): DirectionPolicy => (d.ceiling <= g.ceiling ? d : { ...d, ceiling: g.ceiling });
  return { container: { ...c, group: group.name, bandwidth: { download: within(c.bandwidth.download, group.bandwidth.download), upload: within(c.bandwidth.upload, group.bandwidth.upload) } } };
}

/** The workload's IPv6 address in the Host's subnet6 (any, without one): canonical text. */
function address6Of(policy: Policy, w: ResolvedWorkload): string | undefined {
  const subnet6 = policy.host.subnet6 ? parseSubnet6(policy.host.subnet6) : undefined;
  const found = w.addresses.v6.find((a) => !subnet6 || inSubnet6(subnet6, a)) ?? (subnet6 ? undefined : w.addresses.v6[0]);
  return found === undefined ? undefined : canonicalIpv6(found);
}

function selects(selector: WorkloadSelector, w: ResolvedWorkload): boolean {
  if (selector.name !== undefined && selector.name !== w.name) return false;
  if (selector.service !== undefined && w.service !== selector.service) return false;
  return Object.entries(selector.labels ?? {}).every(([k, v]) => w.labels[k] === v);
}

export function describeSelector(selector: WorkloadSelector): string {
  const parts = [
    ...(selector.name !== undefined ? [`name=${selector.name}`] : []),
    ...(selector.service !== undefined ? [`service=${selector.service}`] : []),
    ...Object.entries(selector.labels ?? {}).map(([k, v]) => `label ${k}=${v}`),
  ];
  return parts.join(', ');
}

function conflict(c: ContainerPolicy, other: ContainerPolicy, w: ResolvedWorkload, noun: string): PolicyIssue {
  const at = (p: ContainerPolicy): string => (p.source.line > 0 ? `${p.source.file}:${p.source.line}:${p.source.column}` : p.source.file);
  return {
    file: c.source.file,
    line: c.source.line,
    column: c.source.column,
    path: `spec.match.${w.source}`,
    message: `${noun} ${w.name} is matched by both "${c.name}" (${at(c)}) and "${other.name}" (${at(other)})`,
    hint: `one ${noun} belongs to one policy container: remove its io.sluice.* labels or narrow the file's match`,
  };
}
