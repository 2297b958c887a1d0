// Workload matches → the workloads a source found, with their address on the Host's
// bridge. Pure: the same policy and snapshots always resolve the same way. A workload
// that is not running (yet) waits, reported but not fatal; two policy containers
// claiming one workload is a conflict.

import type { PolicyIssue } from '../policy/issues';
import type { ContainerMatch, ContainerPolicy, DirectionPolicy, GroupDirectionPolicy, Policy, WorkloadSelector } from '../policy/model';
import { isHostAddress, parseSubnet, type Subnet } from '../net/ipv4';
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

/** `previous`: the indexes of the last call's workloads, updated here for the next. */
export function resolveWorkloads(policy: Policy, sources: ReadonlyMap<SourceLabel, ReadSource>, previous: WorkloadIndexes = new Map()): Resolution {
  const waiting: WaitingContainer[] = [];
  const issues: PolicyIssue[] = [];
  const claimedBy = new Map<string, ContainerPolicy>();
  const containers: ContainerPolicy[] = [];
  const indexes = new Map<SourceLabel, WorkloadIndex>();
  const subnet = parseSubnet(policy.host.subnet);
  for (const c of policy.containers) {
    if (c.match.kind !== 'workload') {
      containers.push(c);
      continue;
    }
    const source = sources.get(c.match.source);
    if (source && !indexes.has(c.match.source)) indexes.set(c.match.source, indexOf(previous, c.match.source, source.snapshot.workloads));
    const found = source ? resolveOne(policy, subnet, c.match, source, indexes.get(c.match.source)!) : { reason: `the ${c.match.source} source was not read` };
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
    // A dual-stack network gives the workload an IPv6 address too: classified into the same class.
    const address6 = c.address6 ?? address6Of(policy, found.workload);
    containers.push({ ...joined, address: found.address, ...(address6 ? { address6 } : {}), workload: found.workload });
  }
  return { policy: { ...policy, containers }, waiting, issues };
}

/**
 * Each source's index of its workloads at the last load, for the next to update: serve
 * loads on every ADD, and rebuilding the index of every pod's labels was a tenth of a
 * load beside 100-400 pods. The CNI source hands the same workload object again for a
 * record that did not change (cni/documents.ts).
 */
export type WorkloadIndexes = Map<SourceLabel, WorkloadIndex>;

function indexOf(indexes: WorkloadIndexes, source: SourceLabel, workloads: readonly ResolvedWorkload[]): WorkloadIndex {
  const index = indexes.get(source)?.updatedTo(workloads) ?? new WorkloadIndex(workloads);
  indexes.set(source, index);
  return index;
}

/**
 * A source's workloads by name and by each label, so that resolving each of n containers
 * (a CNI pod's own document selects its pod by a label) does not scan all n workloads.
 * Each list keeps the workloads' order in `all` (select's candidates, as messages name them).
 */
export class WorkloadIndex {
  private readonly byName = new Map<string, ResolvedWorkload[]>();
  private readonly byLabel = new Map<string, ResolvedWorkload[]>();

  constructor(private all: readonly ResolvedWorkload[]) {
    this.add(all);
  }

  /**
   * This index made equal to a new one of `workloads`, or undefined: when `workloads` is
   * this index's (the same objects) with some left out and others after them, the lists
   * keep their order with those removed and these appended; any other order rebuilds.
   */
  updatedTo(workloads: readonly ResolvedWorkload[]): WorkloadIndex | undefined {
    const now = new Set(workloads);
    const removed: ResolvedWorkload[] = [];
    let kept = 0;
    for (const w of this.all) {
      if (workloads[kept] === w) kept++;
      else if (now.has(w)) return undefined;
      else removed.push(w);
    }
    // None the same (a Docker source makes new objects each load): building anew is cheaper.
    if (kept === 0) return undefined;
    // Each list touched is filtered once, not once per workload removed from it.
    const gone = new Set(removed);
    drop(this.byName, new Set(removed.map((w) => w.name)), gone);
    drop(this.byLabel, new Set(removed.flatMap(labelKeys)), gone);
    this.add(workloads.slice(kept));
    this.all = workloads;
    return this;
  }

  /** The workloads `selector` selects. */
  select(selector: WorkloadSelector): ResolvedWorkload[] {
    const label = Object.entries(selector.labels ?? {})[0];
    const some = selector.name !== undefined ? this.byName.get(selector.name) : label ? this.byLabel.get(`${label[0]}\0${label[1]}`) : this.all;
    return (some ?? []).filter((w) => selects(selector, w));
  }

  private add(workloads: readonly ResolvedWorkload[]): void {
    for (const w of workloads) {
      push(this.byName, w.name, w);
      for (const key of labelKeys(w)) push(this.byLabel, key, w);
    }
  }
}

const labelKeys = (w: ResolvedWorkload): string[] => Object.entries(w.labels).map(([k, v]) => `${k}\0${v}`);

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function drop<K, V>(map: Map<K, V[]>, keys: ReadonlySet<K>, gone: ReadonlySet<V>): void {
  for (const key of keys) {
    const list = map.get(key)?.filter((v) => !gone.has(v));
    if (list?.length) map.set(key, list);
    else map.delete(key);
  }
}

function resolveOne(policy: Policy, subnet: Subnet, match: WorkloadMatch, source: ReadSource, index: WorkloadIndex): { workload: ResolvedWorkload; address: string } | { reason: string } {
  const { snapshot, noun } = source;
  const candidates = index.select(match);
  if (candidates.length === 0) return { reason: `no running ${noun} matches ${describeSelector(match)} at ${snapshot.origin}; shaped as soon as one starts` };
  if (candidates.length > 1) return { reason: `${describeSelector(match)} matches ${candidates.length} running containers (${candidates.map((w) => w.name).join(', ')}); one policy container shapes one ${noun}: match by name, or label each container` };
  const workload = candidates[0]!;
  const address = workload.addresses.v4[0];
  if (!address) {
    return { reason: `${noun} ${workload.name} has no address on bridge ${policy.host.bridge} (its networks: ${workload.placement ?? 'none'}); connect it to the network whose bridge the Host names` };
  }
  if (!isHostAddress(subnet, address)) {
    return { reason: `${noun} ${workload.name} has ${address} on ${policy.host.bridge}, outside the Host subnet ${policy.host.subnet}; make the Host subnet the ${match.source} network's` };
  }
  return { workload, address };
}

/**
 * A workload its source put in a group (a pod in its Kubernetes namespace's) joins it,
 * unless the policy container names a group itself; its ceilings stay within the group's.
 * A source's group that no Group document defines leaves it under the link: every
 * namespace is a source's group, and a node's policy must not fail for kube-system.
 */
function joinSourceGroup(policy: Policy, c: ContainerPolicy, w: ResolvedWorkload): ContainerPolicy {
  if (c.group !== undefined || w.group === undefined) return c;
  const group = policy.groups.find((g) => g.name === w.group);
  if (!group) return c;
  const within = (d: DirectionPolicy, g: GroupDirectionPolicy): DirectionPolicy => (d.ceiling <= g.ceiling ? d : { ...d, ceiling: g.ceiling });
  return { ...c, group: group.name, bandwidth: { download: within(c.bandwidth.download, group.bandwidth.download), upload: within(c.bandwidth.upload, group.bandwidth.upload) } };
}

/** The workload's IPv6 address in the Host's subnet6 (any, without one): canonical text. */
function address6Of(policy: Policy, w: ResolvedWorkload): string | undefined {
  const subnet6 = policy.host.subnet6 ? parseSubnet6(policy.host.subnet6) : undefined;
  const found = w.addresses.v6.find((a) => !subnet6 || inSubnet6(subnet6, a)) ?? (subnet6 ? undefined : w.addresses.v6[0]);
  return found === undefined ? undefined : canonicalIpv6(found);
}

export function selects(selector: WorkloadSelector, w: ResolvedWorkload): boolean {
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
