import { describe, expect, it } from 'vitest';
import { compilePolicy, policyFootprint } from '../../src/compile';
import type { ResolvedWorkload } from '../../src/workload/workload';
import { externalPolicy } from '../support/policy';

const workload: ResolvedWorkload = {
  source: 'cni',
  id: 'abc123',
  name: 'ns/pod',
  netns: '/var/run/netns/cni-1',
  device: 'eth0',
  hostDevice: 'veth1234',
  addresses: { v4: ['198.18.70.5'], v6: [] },
  labels: {},
};

describe('compile: a workload on an external bridge', () => {
  const policy = externalPolicy(workload);
  const compiled = compilePolicy(policy);

  it('creates nothing of the runtime: no namespace, no bridge, no address; only the IFB', () => {
    expect(compiled.state.namespaces).toEqual([]);
    expect(compiled.state.addresses).toEqual([]);
    expect(compiled.state.links.map((l) => `${l.netns}/${l.name}:${l.spec.kind}`)).toEqual(['sl-rt/sl-rbr0:external', 'sl-rt/sl-rifb0:ifb']);
  });

  it("changes nothing of the runtime's devices: no GSO size on the bridge, no desired state for the workload's veth ends", () => {
    // A cap there made the bridge segment every forwarded 64 KiB packet in software (issue #25).
    expect(compiled.state.links.filter((l) => l.gsoMaxSize !== undefined)).toEqual([]);
    expect(compiled.state.links.some((l) => l.name === 'eth0' || l.name === 'veth1234')).toBe(false);
  });

  it('observes, and never deletes, those devices; names the workload by its source', () => {
    const footprint = policyFootprint(policy);
    expect(footprint.external).toEqual([
      { netns: 'sl-rt', dev: 'sl-rbr0' },
      { netns: '/var/run/netns/cni-1', dev: 'eth0' },
      { netns: 'sl-rt', dev: 'veth1234' },
    ]);
    expect(footprint.netns).toEqual(['sl-rt', '/var/run/netns/cni-1']);
    expect(compiled.containers[0]).toMatchObject({ name: 'app', matchKind: 'cni', address: '198.18.70.5', workload: { name: 'ns/pod' } });
  });
});
