// Docker matches → addresses on the policy's bridge. Pure: the same policy and view
// always resolve the same way. A container that is not running (yet) waits, reported
// but not fatal; two policy containers claiming one Docker container is a conflict.

import type { PolicyIssue } from '../policy/issues';
import type { ContainerMatch, ContainerPolicy, Policy } from '../policy/model';
import { isHostAddress, parseSubnet } from '../policy/subnet';
import { COMPOSE_SERVICE_LABEL, type DockerContainer, type DockerView } from './model';

type DockerMatch = Extract<ContainerMatch, { kind: 'docker' }>;

/** A policy container that names a Docker container not shaped now, and why. */
export interface WaitingContainer {
  readonly container: string;
  readonly reason: string;
}

export interface DockerResolution {
  /** The policy in force: Docker matches that resolved carry an address and a binding; the others are left out. */
  readonly policy: Policy;
  readonly waiting: readonly WaitingContainer[];
  /** Conflicts: the policy cannot be applied as it stands. */
  readonly issues: readonly PolicyIssue[];
}

export function resolveDocker(policy: Policy, view: DockerView): DockerResolution {
  const waiting: WaitingContainer[] = [];
  const issues: PolicyIssue[] = [];
  const claimedBy = new Map<string, ContainerPolicy>();
  const containers: ContainerPolicy[] = [];
  for (const c of policy.containers) {
    if (c.match.kind !== 'docker') {
      containers.push(c);
      continue;
    }
    const found = resolveOne(policy, c.match, view);
    if ('reason' in found) {
      waiting.push({ container: c.name, reason: found.reason });
      continue;
    }
    const other = claimedBy.get(found.container.id);
    if (other) {
      issues.push(conflict(c, other, found.container));
      continue;
    }
    claimedBy.set(found.container.id, c);
    const d = found.container;
    // Docker names the devices eth0, eth1… in attach order, which the API does not tell;
    // with one network it is certainly eth0.
    const device = d.endpoints.length === 1 ? { device: 'eth0' } : {};
    // A dual-stack Docker network gives the container an IPv6 address too: classified into the same class.
    const address6 = c.address6 ?? found.address6;
    containers.push({ ...c, address: found.address, ...(address6 ? { address6 } : {}), docker: { id: d.id, name: d.name, netns: `/proc/${d.pid}/ns/net`, ...device } });
  }
  return { policy: { ...policy, containers }, waiting, issues };
}

function resolveOne(policy: Policy, match: DockerMatch, view: DockerView): { container: DockerContainer; address: string; address6?: string } | { reason: string } {
  const candidates = view.containers.filter((d) => selects(match, d));
  if (candidates.length === 0) return { reason: `no running Docker container matches ${describeMatch(match)} at ${view.endpoint}; shaped as soon as one starts` };
  if (candidates.length > 1) return { reason: `${describeMatch(match)} matches ${candidates.length} running containers (${candidates.map((d) => d.name).join(', ')}); one policy container shapes one Docker container: match by name, or label each container` };
  const container = candidates[0]!;
  const onBridge = container.endpoints.find((e) => e.bridge === policy.host.bridge && e.address);
  if (!onBridge?.address) {
    const networks = container.endpoints.map((e) => `${e.network}${e.bridge ? ` (bridge ${e.bridge})` : ''}`).join(', ') || 'none';
    return { reason: `Docker container ${container.name} has no address on bridge ${policy.host.bridge} (its networks: ${networks}); connect it to the network whose bridge the Host names` };
  }
  if (!isHostAddress(parseSubnet(policy.host.subnet), onBridge.address)) {
    return { reason: `Docker container ${container.name} has ${onBridge.address} on ${policy.host.bridge}, outside the Host subnet ${policy.host.subnet}; make the Host subnet the Docker network's` };
  }
  return { container, address: onBridge.address, ...(onBridge.address6 ? { address6: onBridge.address6 } : {}) };
}

function selects(match: DockerMatch, d: DockerContainer): boolean {
  if (match.name !== undefined && match.name !== d.name) return false;
  if (match.service !== undefined && d.labels[COMPOSE_SERVICE_LABEL] !== match.service) return false;
  return Object.entries(match.labels ?? {}).every(([k, v]) => d.labels[k] === v);
}

export function describeMatch(match: DockerMatch): string {
  const parts = [
    ...(match.name !== undefined ? [`name=${match.name}`] : []),
    ...(match.service !== undefined ? [`service=${match.service}`] : []),
    ...Object.entries(match.labels ?? {}).map(([k, v]) => `label ${k}=${v}`),
  ];
  return parts.join(', ');
}

function conflict(c: ContainerPolicy, other: ContainerPolicy, d: DockerContainer): PolicyIssue {
  const at = (p: ContainerPolicy): string => (p.source.line > 0 ? `${p.source.file}:${p.source.line}:${p.source.column}` : p.source.file);
  return {
    file: c.source.file,
    line: c.source.line,
    column: c.source.column,
    path: 'spec.match.docker',
    message: `Docker container ${d.name} is matched by both "${c.name}" (${at(c)}) and "${other.name}" (${at(other)})`,
    hint: 'one Docker container belongs to one policy container: remove its io.sluice.* labels or narrow the file\'s match',
  };
}
