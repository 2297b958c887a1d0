// Meaning across documents: one host, unique names and addresses, rates that fit the
// link, schedules that name real containers. Every finding is reported, not the first.

import { HOST_NETNS, DIRECTIONS, type Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import type { LocatedDocument } from './documents';
import { IssueSink, sourceOf, where } from './sink';
import { ceilingAbove, groupGuarantees, levelsOf, OVERCOMMIT_HINT, overcommitMessage, overcommits, reportGroupOvercommits, reportNameClashes, validateGroups, type GroupDoc, type GroupTree } from './groups';
import type { PolicyIssue } from './issues';
import type { ContainerMatch, ContainerPolicy, DirectionPolicy, HostPolicy, Policy, SchedulePolicy, WorkloadSelector } from './model';
import { cronProblem } from './cron';
import { applyPatches } from './patch';
import { MAX_GUARANTEE_RATIO } from './limits';
import { formatRate } from '../units/format';
import { WORKLOAD_SOURCE_SECTIONS, type WorkloadSourceLabel, type ContainerDocument, type HostDocument, type ScheduleDocument } from './schema';
import { firstHost, ipToInt, isHostAddress, parseSubnet, type Subnet } from '../net/ipv4';
import { dotDotIssue } from './paths';
import { reportPeerAdmission, reportPeerSchedules, validateContainerPeers, validatePeerSets } from './peers';
import { canonicalIpv6, embedIpv4, formatIpv6, inSubnet6, isIpv6, MAX_EMBEDDING_PREFIX, parseSubnet6 } from '../net/ipv6';

type HostDoc = LocatedDocument & { readonly value: HostDocument };
type ContainerDoc = LocatedDocument & { readonly value: ContainerDocument };
type ScheduleDoc = LocatedDocument & { readonly value: ScheduleDocument };

export type ValidationResult = { readonly ok: true; readonly policy: Policy } | { readonly ok: false; readonly issues: readonly PolicyIssue[] };

export function validateDocuments(documents: readonly LocatedDocument[], fileNames: readonly string[]): ValidationResult {
  const sink = new IssueSink();
  const hosts = documents.filter((d): d is HostDoc => d.value.kind === 'Host');
  const containerDocs = documents.filter((d): d is ContainerDoc => d.value.kind === 'Container');
  const groupDocs = documents.filter((d): d is GroupDoc => d.value.kind === 'Group');
  const scheduleDocs = documents.filter((d): d is ScheduleDoc => d.value.kind === 'Schedule');

  const hostDoc = hosts[0];
  for (const extra of hosts.slice(1)) {
    sink.add(extra, ['kind'], `a second Host document ("${extra.value.metadata.name}"); the first is at ${where(hostDoc!)}`, 'one host per policy: remove or merge one of them');
  }
  if (!hostDoc) {
    sink.issues.push({ file: fileNames[0] ?? '(no files)', line: 1, column: 1, path: '', message: 'no Host document: the link capacity and subnet are unknown', hint: 'add a document with kind: Host (see policies/demo.yaml)' });
    return { ok: false, issues: sink.issues };
  }
  const host = validateHost(hostDoc, sink);
  reportDuplicateNames(containerDocs, 'container', sink);
  reportDuplicateNames(scheduleDocs, 'schedule', sink);
  reportDuplicateNames(groupDocs, 'group', sink);
  reportNameClashes(groupDocs, containerDocs, sink);
  const tree = validateGroups(groupDocs, host, sink);
  const subnet = parseSubnet(host.subnet);
  const containers = containerDocs.map((d) => validateContainer(d, host, subnet, tree, sink));
  reportDuplicateTargets(containerDocs, containers, sink);
  reportGroupOvercommits(host, tree, containers, sink, hostDoc);
  reportPeerAdmission(host, containers, containerDocs, hostDoc, sink);
  reportPeerSchedules(host, scheduleDocs, sink);
  for (const dir of DIRECTIONS) checkGuaranteeRatio(tree, containers, dir, sink, containerDocs);
  const schedules = scheduleDocs.map((d) => validateSchedule(d, host, tree, containers, sink));
  if (sink.issues.length === 0) scheduleDocs.forEach((d, i) => checkWindowAdmission(d, host, tree, containers, schedules[i]!, sink));
  if (sink.issues.length > 0) return { ok: false, issues: sink.issues };
  return { ok: true, policy: { host, containers, groups: tree.groups, schedules } };
}

function validateHost(doc: HostDoc, sink: IssueSink): HostPolicy {
  const spec = doc.value.spec;
  const subnet = parseSubnet(spec.subnet);
  const gateway = spec.gateway ?? firstHost(subnet);
  if (!isHostAddress(subnet, gateway)) sink.add(doc, ['spec', 'gateway'], `gateway ${gateway} is not a host address of ${spec.subnet}`, 'pick an address inside the subnet, or leave gateway out');
  if (subnet.prefix > 30) sink.add(doc, ['spec', 'subnet'], `subnet ${spec.subnet} has no room for containers`, 'use a /30 or larger subnet');
  const dualStack = spec.subnet6 ? validateSubnet6(doc, spec.subnet6, gateway, sink) : undefined;
  const capacity = spec.capacity;
  for (const dir of DIRECTIONS) {
    if (capacity[dir] <= 0) sink.add(doc, ['spec', 'capacity', dir], `${dir} capacity must be above zero`);
  }
  const peers = validatePeerSets(doc, capacity, sink);
  const sources = WORKLOAD_SOURCE_SECTIONS.filter((label) => spec[label] !== undefined);
  if (spec.external === false && sources.length > 0) {
    sink.add(doc, ['spec', 'external'], `the Host enables ${sources.join(', ')}, whose bridge is the runtime's, but says external: false`, 'leave external out (or true) for a runtime\'s bridge');
  }
  const external = spec.external ?? sources.length > 0;
  if (spec.mode === 'per-device' && external) {
    sink.add(doc, sources.length > 0 ? ['spec', sources[0]!] : ['spec', 'external'], 'per-device mode is not supported on an external bridge yet', 'use mode: shared (the default)');
  }
  for (const field of ['bridge', 'ifb'] as const) {
    // Every namespace has it: never a device Sluice can make, and never one it deletes.
    if (spec[field] === 'lo') sink.add(doc, ['spec', field], `${field}: lo names the loopback device every namespace has, not a${field === 'ifb' ? 'n IFB' : ' bridge'} Sluice can make or shape`, `name another device (the default is ${field === 'ifb' ? 'sl-ifb0' : 'sl-br0'}); Sluice never deletes lo`);
  }
  if (spec.mode === 'per-device' && spec.netns === 'host') {
    sink.add(doc, ['spec', 'netns'], 'per-device mode in the real host namespace is not supported yet', 'use the sandbox (default sl-host)');
  }
  return {
    name: doc.value.metadata.name,
    mode: spec.mode,
    netns: spec.netns === 'host' ? HOST_NETNS : spec.netns,
    bridge: spec.bridge,
    ifb: spec.ifb,
    subnet: spec.subnet,
    gateway,
    ...(dualStack ? { subnet6: dualStack.subnet6, gateway6: dualStack.gateway6 } : {}),
    capacity,
    ...(peers ? { peers } : {}),
    overcommit: spec.overcommit,
    external,
    sources,
    source: sourceOf(doc),
  };
}

/** The Host's IPv6 prefix in canonical form, and the bridge's IPv6 address in it. */
function validateSubnet6(doc: HostDoc, text: string, gateway: string, sink: IssueSink): { subnet6: string; gateway6: string } | undefined {
  const s = parseSubnet6(text);
  if (!s) return undefined; // the schema already reported it
  if (s.prefix > MAX_EMBEDDING_PREFIX) {
    sink.add(doc, ['spec', 'subnet6'], `subnet6 ${text} is longer than /${MAX_EMBEDDING_PREFIX}: a container's IPv6 address carries its IPv4 address in the low 32 bits`, `use a /${MAX_EMBEDDING_PREFIX} or shorter prefix, e.g. 2001:2::/64`);
    return undefined;
  }
  return { subnet6: `${formatIpv6(s.words)}/${s.prefix}`, gateway6: embedIpv4(s, ipToInt(gateway)) };
}

function reportDuplicateNames(docs: readonly LocatedDocument[], what: string, sink: IssueSink): void {
  const seen = new Map<string, LocatedDocument>();
  for (const doc of docs) {
    const first = seen.get(doc.value.metadata.name);
    if (first) sink.add(doc, ['metadata', 'name'], `${what} "${doc.value.metadata.name}" is defined twice; the other is at ${where(first)}`, 'names are unique across all policy files');
    else seen.set(doc.value.metadata.name, doc);
  }
}

function validateContainer(doc: ContainerDoc, host: HostPolicy, subnet: Subnet, tree: GroupTree, sink: IssueSink): ContainerPolicy {
  const spec = doc.value.spec;
  const group = spec.group !== undefined && tree.byName.has(spec.group) ? spec.group : undefined;
  if (spec.group !== undefined && !group) sink.add(doc, ['spec', 'group'], `unknown group "${spec.group}"`, `known groups: ${[...tree.byName.keys()].join(', ') || '(none)'}; a group is a document of kind: Group`);
  const match = toMatch(spec.match);
  const matched = match.kind === 'ip' ? match.address : undefined;
  const address = spec.address ?? (matched && !isIpv6(matched) ? matched : undefined);
  const address6 = (spec.address6 ? canonicalIpv6(spec.address6) : undefined) ?? (matched && isIpv6(matched) ? matched : undefined);
  if (spec.address6 && matched && isIpv6(matched) && address6 !== matched) {
    sink.add(doc, ['spec', 'address6'], `address6 ${spec.address6} differs from match.ip ${matched}`, 'leave address6 out when matching by an IPv6 address');
  }
  if (address6) checkAddress6(doc, address6, spec.address6 ? ['spec', 'address6'] : ['spec', 'match', 'ip'], host, sink);
  if (spec.address && matched && !isIpv6(matched) && spec.address !== matched) {
    sink.add(doc, ['spec', 'address'], `address ${spec.address} differs from match.ip ${matched}`, 'leave address out when matching by ip');
  }
  if (address) checkAddress(doc, address, spec.address ? ['spec', 'address'] : ['spec', 'match', 'ip'], subnet, host, sink);
  if (host.mode === 'per-device' && (match.kind === 'ip' || match.kind === 'cgroup' || match.kind === 'workload')) {
    sink.add(doc, ['spec', 'match'], `per-device mode shapes each container on its own device; a ${matchLabel(match)} match has none`, 'use managed, netns or pid, or mode: shared');
  }
  if (match.kind === 'workload') checkWorkloadMatch(doc, match, host, sink);
  if (host.external && (match.kind === 'managed' || match.kind === 'netns-path' || match.kind === 'pid')) {
    sink.add(doc, ['spec', 'match'], `a ${match.kind} match needs a veth on a bridge Sluice owns; this Host shapes an external bridge${host.sources.length > 0 ? ` (${host.sources.join(', ')})` : ''}`, `match ${host.sources.map((s) => `${s} workloads (${s}:), `).join('')}addresses (ip:) or cgroups here, and namespaces in a separate policy`);
  }
  checkMatchPath(doc, match, sink);
  if (match.kind === 'managed' && match.netns === host.netns) {
    sink.add(doc, ['spec', 'match', 'managed'], `namespace ${match.netns} is the host namespace of this policy`, 'give the container its own sl- namespace');
  }
  if (group && match.kind === 'cgroup') {
    // The root qdisc's classifier reads the cgroup's classid, which can only name one of
    // the root's own classes; a group member's class is in its group's HTB.
    sink.add(doc, ['spec', 'group'], `a cgroup-matched container cannot be in a group: its packets are classified by the net_cls classid the root HTB reads, which can name only a class of the root, not one inside group "${group}"`, 'leave group out for this container, or match the workload by address (ip:)');
  }
  const bandwidth = {} as Record<Direction, DirectionPolicy>;
  for (const dir of DIRECTIONS) bandwidth[dir] = validateDirection(doc, dir, host, ceilingAbove(tree, group, dir, host.capacity[dir]), group, sink);
  return { name: doc.value.metadata.name, match, ...(address ? { address } : {}), ...(address6 ? { address6 } : {}), bandwidth, ...(group ? { group } : {}), source: sourceOf(doc) };
}

function checkAddress6(doc: ContainerDoc, address: string, path: readonly string[], host: HostPolicy, sink: IssueSink): void {
  const subnet6 = host.subnet6 ? parseSubnet6(host.subnet6) : undefined;
  if (subnet6 && !inSubnet6(subnet6, address)) sink.add(doc, path, `address ${address} is outside the host's subnet6 ${host.subnet6}`, `pick an address in ${host.subnet6}`);
  else if (address === host.gateway6) sink.add(doc, path, `address ${address} is the bridge's own IPv6 address`, 'pick another address, or leave it out to have one derived');
}

const matchLabel = (m: ContainerMatch): string => (m.kind === 'workload' ? m.source : m.kind);

function checkWorkloadMatch(doc: ContainerDoc, match: Extract<ContainerMatch, { kind: 'workload' }>, host: HostPolicy, sink: IssueSink): void {
  const path = ['spec', 'match', match.source];
  if (!host.sources.includes(match.source)) {
    sink.add(doc, path, `a ${match.source} workload is shaped on its runtime's bridge, but the Host has no ${match.source} section`, `add \`${match.source}: {}\` to the Host spec and set its bridge to the runtime's network bridge (e.g. sl-dbr0)`);
  }
  if (!match.name && !match.service && !match.labels) sink.add(doc, path, `match.${match.source} selects nothing`, 'give a name, a compose service or labels');
}

function checkMatchPath(doc: ContainerDoc, match: ContainerMatch, sink: IssueSink): void {
  const checked = match.kind === 'netns-path' ? { key: 'netns', path: match.path, hint: 'a name under /run/netns (as `ip netns list` shows) or an absolute path such as /proc/<pid>/ns/net' } : match.kind === 'cgroup' ? { key: 'cgroup', path: match.path, hint: 'a cgroup path under the net_cls root, e.g. sl-agent' } : undefined;
  const issue = checked && dotDotIssue(checked.path);
  if (checked && issue) sink.add(doc, ['spec', 'match', checked.key], issue, checked.hint);
}

export function toMatch(m: ContainerDocument['spec']['match']): ContainerMatch {
  if ('managed' in m) return { kind: 'managed', netns: m.managed };
  if ('netns' in m) return { kind: 'netns-path', path: m.netns };
  if ('pid' in m) return { kind: 'pid', pid: m.pid };
  if ('ip' in m) return { kind: 'ip', address: isIpv6(m.ip) ? (canonicalIpv6(m.ip) ?? m.ip) : m.ip };
  if ('cgroup' in m) return { kind: 'cgroup', path: m.cgroup };
  // A Kubernetes pod is a CNI workload named namespace/pod.
  if ('pod' in m) return { kind: 'workload', source: 'cni', name: m.pod };
  // What is left is one workload source's selector, keyed by the source's label.
  const [source, selector] = Object.entries(m)[0] as [WorkloadSourceLabel, WorkloadSelector];
  return { kind: 'workload', source, ...selector };
}

function checkAddress(doc: ContainerDoc, address: string, path: readonly string[], subnet: Subnet, host: HostPolicy, sink: IssueSink): void {
  if (!isHostAddress(subnet, address)) sink.add(doc, path, `address ${address} is outside the host subnet ${host.subnet} (or is its network/broadcast address)`, `pick a host address in ${host.subnet}`);
  else if (address === host.gateway) sink.add(doc, path, `address ${address} is the bridge's own (gateway) address`, 'pick another address, or leave it out to have one assigned');
}

/** `above`: the ceiling of the container's group (or the link), its default and its bound. */
function validateDirection(doc: ContainerDoc, dir: Direction, host: HostPolicy, above: BitsPerSec, group: string | undefined, sink: IssueSink): DirectionPolicy {
  const spec = doc.value.spec[dir];
  const link = host.capacity[dir];
  const ceiling = spec.ceiling ?? above;
  const { guarantee, peers } = validateContainerPeers(doc, dir, host, ceiling, sink);
  const path = ['spec', dir];
  if (spec.ceiling !== undefined && ceiling <= 0) sink.add(doc, [...path, 'ceiling'], `${dir} ceiling must be above zero`);
  if (ceiling > link) sink.add(doc, [...path, 'ceiling'], `${dir} ceiling ${formatRate(ceiling)} is above the link's ${formatRate(link)}`, `lower it to at most ${formatRate(link)} or leave it out (defaults to the link)`);
  else if (group !== undefined && ceiling > above) sink.add(doc, [...path, 'ceiling'], `${dir} ceiling ${formatRate(ceiling)} is above its group "${group}"'s ${formatRate(above)}`, `lower it to at most ${formatRate(above)} or leave it out (defaults to the group's)`);
  if (guarantee > ceiling) sink.add(doc, [...path, 'guarantee'], `${dir} guarantee ${formatRate(guarantee)} is above its ceiling ${formatRate(ceiling)}`, 'a guarantee cannot exceed the ceiling');
  return { guarantee, ceiling, priority: spec.priority, ...(spec.burst !== undefined ? { burst: spec.burst } : {}), ...(peers ? { peers } : {}) };
}

/** Two containers on the same namespace, address or cgroup would fight over one class. */
function reportDuplicateTargets(docs: readonly ContainerDoc[], containers: readonly ContainerPolicy[], sink: IssueSink): void {
  const seen = new Map<string, number>();
  containers.forEach((c, i) => {
    for (const [key, path, label] of targetsOf(c)) {
      const first = seen.get(key);
      if (first !== undefined && first !== i) {
        sink.add(docs[i]!, path, `${label} is also used by container "${containers[first]!.name}" at ${where(docs[first]!)}`, 'each namespace, address, cgroup and workload belongs to one policy container');
      } else seen.set(key, i);
    }
  });
}

function targetsOf(c: ContainerPolicy): [string, readonly string[], string][] {
  const out: [string, readonly string[], string][] = [];
  if (c.address) out.push([`ip:${c.address}`, c.match.kind === 'ip' ? ['spec', 'match', 'ip'] : ['spec', 'address'], `address ${c.address}`]);
  if (c.address6) out.push([`ip:${c.address6}`, c.match.kind === 'ip' && c.match.address === c.address6 ? ['spec', 'match', 'ip'] : ['spec', 'address6'], `address ${c.address6}`]);
  const m = c.match;
  if (m.kind === 'managed') out.push([`netns:/run/netns/${m.netns}`, ['spec', 'match', 'managed'], `namespace ${m.netns}`]);
  if (m.kind === 'netns-path') out.push([`netns:${m.path.startsWith('/') ? m.path : `/run/netns/${m.path}`}`, ['spec', 'match', 'netns'], `namespace ${m.path}`]);
  if (m.kind === 'pid') out.push([`pid:${m.pid}`, ['spec', 'match', 'pid'], `pid ${m.pid}`]);
  if (m.kind === 'cgroup') out.push([`cgroup:${m.path}`, ['spec', 'match', 'cgroup'], `cgroup ${m.path}`]);
  if (m.kind === 'workload' && m.name) out.push([`${m.source}:${m.name}`, ['spec', 'match', m.source, 'name'], `${m.source} container ${m.name}`]);
  return out;
}

/**
 * HTB shares the excess among siblings by quanta, which stay proportional to guarantees
 * only within MAX_GUARANTEE_RATIO of the largest sibling (src/compile/htb.ts,
 * quantumBase); a smaller non-zero guarantee would borrow more than the oracle gives it.
 * Siblings: the groups and containers under the link, or under one group.
 */
function checkGuaranteeRatio(tree: GroupTree, containers: readonly ContainerPolicy[], dir: Direction, sink: IssueSink, docs: readonly ContainerDoc[]): void {
  const guarantees = groupGuarantees(tree.groups, containers, dir);
  const docOf = new Map(containers.map((c, i) => [c, docs[i]]));
  for (const level of levelsOf(tree.groups, containers)) {
    const siblings = [
      ...level.childGroups.map((g) => ({ guarantee: guarantees.get(g.name)!, doc: tree.docs.get(g.name), path: g.bandwidth[dir].guarantee !== undefined ? ['spec', dir, 'guarantee'] : ['metadata', 'name'] })),
      ...level.containers.map((c) => ({ guarantee: c.bandwidth[dir].guarantee, doc: docOf.get(c), path: ['spec', dir, 'guarantee'] })),
    ];
    const largest = siblings.reduce((m, s) => Math.max(m, s.guarantee), 0);
    for (const { guarantee: g, doc, path } of siblings) {
      if (g <= 0 || g * MAX_GUARANTEE_RATIO >= largest || !doc) continue;
      sink.add(
        doc,
        path,
        `${dir} guarantee ${formatRate(g)} is more than ${MAX_GUARANTEE_RATIO} times below the largest${level.group ? ` in group "${level.group.name}"` : ''} (${formatRate(bitsPerSec(largest))}): HTB could not share the excess in proportion`,
        `raise it to at least ${formatRate(bitsPerSec(Math.ceil(largest / MAX_GUARANTEE_RATIO)))}, or set it to 0 (best effort)`,
      );
    }
  }
}

/** While a window is open its patched guarantees must still fit, at every level. */
function checkWindowAdmission(doc: ScheduleDoc, host: HostPolicy, tree: GroupTree, containers: readonly ContainerPolicy[], schedule: SchedulePolicy, sink: IssueSink): void {
  if (host.overcommit === 'scale-by-priority') return;
  const patched = applyPatches(containers, schedule.patches);
  for (const dir of DIRECTIONS) {
    for (const o of overcommits(host, tree.groups, patched, dir)) sink.add(doc, ['spec', 'patches'], overcommitMessage(o, dir, `while window "${schedule.name}" is open`), OVERCOMMIT_HINT);
  }
}

function validateSchedule(doc: ScheduleDoc, host: HostPolicy, tree: GroupTree, containers: readonly ContainerPolicy[], sink: IssueSink): SchedulePolicy {
  const spec = doc.value.spec;
  const cron = cronProblem(spec.cron);
  if (cron) sink.add(doc, ['spec', 'cron'], `"${spec.cron}" is not a valid cron expression (${cron})`, 'five fields: minute hour day-of-month month day-of-week, e.g. "0 1 * * *" for 01:00 daily');
  const byName = new Map(containers.map((c) => [c.name, c]));
  spec.patches.forEach((patch, i) => {
    const target = byName.get(patch.container);
    if (!target) {
      sink.add(doc, ['spec', 'patches', i, 'container'], `schedule patches unknown container "${patch.container}"`, `known containers: ${[...byName.keys()].join(', ') || '(none)'}`);
      return;
    }
    for (const dir of DIRECTIONS) checkPatchedDirection(doc, i, dir, target, ceilingAbove(tree, target.group, dir, host.capacity[dir]), patch[dir], sink);
  });
  const duration = spec.duration;
  if (duration <= 0) sink.add(doc, ['spec', 'duration'], 'a window needs a duration above zero');
  return {
    name: doc.value.metadata.name,
    cron: spec.cron,
    duration,
    patches: spec.patches.map((p) => ({
      container: p.container,
      bandwidth: Object.fromEntries(DIRECTIONS.filter((d) => p[d]).map((d) => [d, patchOf(p[d]!)])),
    })),
    source: sourceOf(doc),
  };
}

type PatchDirectionSpec = NonNullable<ScheduleDocument['spec']['patches'][number]['download']>;

/** The fields a patch sets (the schema leaves absent ones undefined). */
function patchOf(p: PatchDirectionSpec): Partial<DirectionPolicy> {
  return {
    ...(p.guarantee !== undefined ? { guarantee: p.guarantee } : {}),
    ...(p.ceiling !== undefined ? { ceiling: p.ceiling } : {}),
    ...(p.priority !== undefined ? { priority: p.priority } : {}),
  };
}

/** `above`: the ceiling of the target's group, or the link. */
function checkPatchedDirection(doc: ScheduleDoc, index: number, dir: Direction, target: ContainerPolicy, above: BitsPerSec, patch: PatchDirectionSpec | undefined, sink: IssueSink): void {
  if (!patch) return;
  const merged = { ...target.bandwidth[dir], ...patchOf(patch) };
  const path = ['spec', 'patches', index, dir];
  if (merged.ceiling > above) sink.add(doc, [...path, 'ceiling'], `during the window ${target.name}'s ${dir} ceiling ${formatRate(merged.ceiling)} is above ${target.group !== undefined ? `its group "${target.group}"'s` : "the link's"} ${formatRate(above)}`);
  if (merged.guarantee > merged.ceiling) sink.add(doc, [...path, 'guarantee'], `during the window ${target.name}'s ${dir} guarantee ${formatRate(merged.guarantee)} is above its ceiling ${formatRate(merged.ceiling)}`);
}

