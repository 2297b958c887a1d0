import { describe, expect, it } from 'vitest';
import { resolveWorkloads, type Resolution, type WorkloadIndexes } from '../../../src/sources/resolve';
import { workloadOf } from '../../../src/sources/docker/source';
import type { DockerView } from '../../../src/sources/docker/model';
import { parsePolicyTexts } from '../../../src/policy/load';
import type { Policy } from '../../../src/policy/model';
import { DOCKER_HOST_YAML, dockerContainer } from './fakeEngine';

const container = (name: string, match: string): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { docker: ${match} }
  download: { guarantee: 10mbit }
  upload: { guarantee: 10mbit }
`;

function policy(...containers: string[]): Policy {
  const r = parsePolicyTexts([{ path: 'p.yaml', text: DOCKER_HOST_YAML + containers.join('') }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

const view = (...containers: ReturnType<typeof dockerContainer>[]): DockerView => ({ endpoint: 'unix:///run/sl-fake.sock', containers });

/** What the loader does with a Docker source's snapshot. */
function resolveDocker(p: Policy, v: DockerView): Resolution {
  const snapshot = { documents: [], issues: [], workloads: v.containers.map((c) => workloadOf(c, p.host.bridge)), origin: v.endpoint };
  return resolveWorkloads(p, new Map([['docker', { snapshot, noun: 'Docker container' }]]));
}

describe('resolving Docker matches', () => {
  it("puts a workload in the group its source names (a seam for CNI's namespaces), unless the policy names one; a group no document defines leaves it under the link", () => {
    const tenant = `---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: shop }
spec:
  download: { ceiling: 50mbit }
`;
    const p = policy(tenant, container('a', '{ name: app_a_1 }'), container('b', '{ name: app_b_1 }'));
    const resolveWith = (group: string) => {
      const workloads = [dockerContainer('app_a_1', '198.18.64.2'), dockerContainer('app_b_1', '198.18.64.3')].map((c) => ({ ...workloadOf(c, p.host.bridge), group }));
      return resolveWorkloads(p, new Map([['docker', { snapshot: { documents: [], issues: [], workloads, origin: 'test' }, noun: 'Docker container' }]]));
    };
    const r = resolveWith('shop');
    expect(r.issues).toEqual([]);
    expect(r.policy.containers.map((c) => [c.name, c.group, c.bandwidth.download.ceiling, c.bandwidth.upload.ceiling])).toEqual([
      ['a', 'shop', 50e6, 100e6],
      ['b', 'shop', 50e6, 100e6],
    ]);
    const ungrouped = resolveWith('nope');
    expect(ungrouped.issues).toEqual([]);
    expect(ungrouped.policy.containers.map((c) => [c.name, c.group, c.bandwidth.download.ceiling])).toEqual([
      ['a', undefined, 100e6],
      ['b', undefined, 100e6],
    ]);
  });

  it('binds a match by name, compose service or labels to the address on the policy bridge', () => {
    const p = policy(container('a', '{ name: app_a_1 }'), container('b', '{ service: b }'), container('c', '{ labels: { tier: db } }'));
    const r = resolveDocker(p, view(dockerContainer('app_a_1', '198.18.64.2'), dockerContainer('app_b_1', '198.18.64.3', { 'com.docker.compose.service': 'b' }), dockerContainer('app_c_1', '198.18.64.4', { tier: 'db' })));
    expect(r.issues).toEqual([]);
    expect(r.waiting).toEqual([]);
    expect(r.policy.containers.map((c) => [c.name, c.address, c.workload?.name, c.workload?.device])).toEqual([
      ['a', '198.18.64.2', 'app_a_1', 'eth0'],
      ['b', '198.18.64.3', 'app_b_1', 'eth0'],
      ['c', '198.18.64.4', 'app_c_1', 'eth0'],
    ]);
    expect(r.policy.containers[0]!.workload!.netns).toMatch(/^\/proc\/\d+\/ns\/net$/);
  });

  it("carries a dual-stack network's IPv6 address (GlobalIPv6Address) into the same class", () => {
    const d = dockerContainer('app_a_1', '198.18.64.2');
    const dual = { ...d, endpoints: [{ ...d.endpoints[0]!, address6: 'fd00:5::2' }] };
    const r = resolveDocker(policy(container('a', '{ name: app_a_1 }')), view(dual));
    expect(r.policy.containers.map((c) => [c.name, c.address, c.address6])).toEqual([['a', '198.18.64.2', 'fd00:5::2']]);
  });

  it('leaves out, and reports, containers that are absent, ambiguous, on another bridge or outside the subnet', () => {
    const p = policy(container('gone', '{ name: nope }'), container('two', '{ labels: { x: "1" } }'), container('other', '{ name: o }'), container('far', '{ name: f }'));
    const r = resolveDocker(p, view(dockerContainer('x1', '198.18.64.2', { x: '1' }), dockerContainer('x2', '198.18.64.3', { x: '1' }), dockerContainer('o', '172.17.0.2', {}, 'docker0'), dockerContainer('f', '198.18.65.2')));
    expect(r.policy.containers).toEqual([]);
    expect(r.issues).toEqual([]);
    const reasons = Object.fromEntries(r.waiting.map((w) => [w.container, w.reason]));
    expect(reasons['gone']).toMatch(/no running Docker container matches name=nope at unix:\/\/\/run\/sl-fake\.sock; shaped as soon as one starts/);
    expect(reasons['two']).toMatch(/matches 2 running containers \(x1, x2\)/);
    expect(reasons['other']).toMatch(/no address on bridge sl-dbr9 \(its networks: net \(bridge docker0\)\)/);
    expect(reasons['far']).toMatch(/outside the Host subnet 198\.18\.64\.0\/24/);
  });

  it('refuses two policy containers claiming one Docker container, citing both', () => {
    const p = policy(container('a', '{ name: app }'), container('b', '{ labels: { role: web } }'));
    const r = resolveDocker(p, view(dockerContainer('app', '198.18.64.2', { role: 'web' })));
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]!.message).toMatch(/Docker container app is matched by both "b" \(p\.yaml:\d+:\d+\) and "a" \(p\.yaml:\d+:\d+\)/);
  });

  it('names no device when the container is on several networks (Docker does not say which eth is which)', () => {
    const c = { ...dockerContainer('app', '198.18.64.2'), endpoints: [{ network: 'n1', bridge: 'sl-dbr9', address: '198.18.64.2' }, { network: 'n2', bridge: 'br-x', address: '10.0.0.2' }] };
    const r = resolveDocker(policy(container('a', '{ name: app }')), view(c));
    expect(r.policy.containers[0]!.workload!.device).toBeUndefined();
  });

  it('resolves with the last call\'s index as a fresh one does, as workloads leave, arrive, change or change order', () => {
    const p = policy(container('a', '{ name: app_a_1 }'), container('web', '{ labels: { role: web } }'), container('db', '{ labels: { role: db } }'));
    const w = (name: string, host: number, role: string) => workloadOf(dockerContainer(name, `198.18.64.${host}`, { role }), p.host.bridge);
    const [a, b, c, d] = [w('app_a_1', 2, 'web'), w('app_b_1', 3, 'web'), w('app_c_1', 4, 'db'), w('app_d_1', 5, 'web')];
    const steps = [[a, b, c], [a, c], [a, c, d], [a, w('app_c_1', 6, 'web'), d], [d, a], [b, d, a], [], [a, b, d]];
    const indexes: WorkloadIndexes = new Map();
    const resolve = (workloads: typeof steps[number], previous?: WorkloadIndexes) =>
      resolveWorkloads(p, new Map([['docker', { snapshot: { documents: [], issues: [], workloads, origin: 'test' }, noun: 'Docker container' }]]), previous);
    for (const workloads of steps) expect(resolve(workloads, indexes)).toEqual(resolve(workloads));
  });
});
