// Traffic between two containers on Sluice's own bridge is routed through the bridge
// device (isolated ports, proxy ARP), so both trees shape it; a runtime's bridge, per-device
// mode and dual-stack hosts are left switched, and in shared mode each port Sluice knows
// there sends such traffic through the IFB (the sender's upload class) first.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { changedLinkFields } from '../../src/plan/compare';
import type { FilterObject, LinkObject, QdiscObject } from '../../src/tc/model';
import type { ResolvedWorkload } from '../../src/workload/workload';
import { demoPolicy, externalPolicy } from '../support/policy';

const ports = (links: readonly LinkObject[]): LinkObject[] => links.filter((l) => l.master === 'sl-br0');
const bridgeSysctls = (policy: ReturnType<typeof demoPolicy>): string[] => compilePolicy(policy).state.sysctls.map((s) => `${s.key}=${s.value}`);

describe('same-bridge traffic: routed through the bridge device', () => {
  it('isolates every container port of the bridge Sluice creates, in shared mode', () => {
    const { state } = compilePolicy(demoPolicy());
    expect(ports(state.links)).toHaveLength(4);
    for (const port of ports(state.links)) expect(port.isolated).toBe(true);
    // The containers' ends are no bridge's ports: nothing to isolate there.
    expect(state.links.filter((l) => l.name === 'eth0').every((l) => l.isolated === undefined)).toBe(true);
  });

  it("sets the bridge's own proxy ARP, forwarding and redirects, and all's redirects in a namespace it owns", () => {
    expect(bridgeSysctls(demoPolicy())).toEqual([
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.sl-br0.forwarding=1',
      'net.ipv4.conf.sl-br0.proxy_arp=1',
      'net.ipv4.conf.sl-br0.proxy_arp_pvlan=1',
      'net.ipv4.conf.sl-br0.send_redirects=0',
      'net.ipv4.neigh.sl-br0.proxy_delay=0',
      'net.ipv4.conf.all.send_redirects=0',
    ]);
  });

  it('writes a dotted bridge name as sysctl(8) does ("/" for its dots)', () => {
    expect(bridgeSysctls(demoPolicy((t) => t.replace('bridge: sl-br0', 'bridge: sl-br.0')))).toContain('net.ipv4.conf.sl-br/0.proxy_arp_pvlan=1');
  });

  it('leaves per-device mode and dual-stack hosts switched (no isolation, no bridge sysctls)', () => {
    for (const policy of [demoPolicy((t) => t.replace('mode: shared', 'mode: per-device')), demoPolicy((t) => t.replace('bridge: sl-br0', 'bridge: sl-br0\n  subnet6: "2001:2::/96"'))]) {
      const { state } = compilePolicy(policy);
      expect(ports(state.links).every((l) => l.isolated === undefined)).toBe(true);
      expect(state.sysctls.some((s) => s.key.includes('sl-br0'))).toBe(false);
    }
  });

  it('repairs a port whose isolation was turned off, and ignores it where Sluice leaves it as found', () => {
    const port = ports(compilePolicy(demoPolicy()).state.links)[0]!;
    expect(changedLinkFields(port, { ...port, isolated: false })).toEqual(['isolated']);
    expect(changedLinkFields(port, { ...port, isolated: true })).toEqual([]);
    const unset: LinkObject = { ...port };
    delete (unset as { isolated?: boolean }).isolated;
    expect(changedLinkFields(unset, { ...port, isolated: false })).toEqual([]);
  });
});

const DUAL_STACK = (t: string): string => t.replace('bridge: sl-br0', 'bridge: sl-br0\n  subnet6: "2001:2::/96"');
const ingressOf = (qdiscs: readonly QdiscObject[], dev: string): QdiscObject[] => qdiscs.filter((q) => q.dev === dev && q.spec.kind === 'ingress');
/** A port hook's u32 nodes, in handle order: "keys -> what it does". */
const hookNodes = (filters: readonly FilterObject[], dev: string): string[] =>
  filters
    .filter((f) => f.dev === dev)
    .sort((x, y) => x.handle - y.handle)
    .map((f) => (f.spec.kind === 'u32' ? `${f.spec.keys.map((k) => `${(k.value >>> 0).toString(16)}/${(k.mask >>> 0).toString(16)}@${k.off}`).join(' ')} -> ${f.spec.actions?.map((a) => `${a.action} ${a.targetDev}`).join(',') ?? `pass (${f.spec.classid?.toString(16)})`}` : f.spec.kind));

describe('same-bridge traffic on switched ports: through the IFB from each port', () => {
  it('hooks no port of an IPv4-only bridge Sluice creates (routed there) and none in per-device mode', () => {
    for (const policy of [demoPolicy(), demoPolicy((t) => t.replace('mode: shared', 'mode: per-device'))]) {
      const { state } = compilePolicy(policy);
      for (const port of ports(state.links)) expect(ingressOf(state.qdiscs, port.name)).toEqual([]);
    }
  });

  it("hooks every port of a dual-stack bridge: the gateway's traffic passes, the rest of each subnet goes to the IFB", () => {
    const { state } = compilePolicy(demoPolicy(DUAL_STACK));
    const hooked = ports(state.links);
    expect(hooked).toHaveLength(4);
    for (const port of hooked) {
      expect(ingressOf(state.qdiscs, port.name)).toHaveLength(1);
      expect(hookNodes(state.filters, port.name)).toEqual([
        '40000000/f0000000@0 c6120001/ffffffff@16 -> pass (ffff0001)',
        '40000000/f0000000@0 c6120000/ffffff00@16 -> egress-redirect sl-ifb0',
        '60000000/f0000000@0 20010002/ffffffff@24 0/ffffffff@28 0/ffffffff@32 c6120001/ffffffff@36 -> pass (ffff0001)',
        '60000000/f0000000@0 20010002/ffffffff@24 0/ffffffff@28 0/ffffffff@32 -> egress-redirect sl-ifb0',
      ]);
    }
  });
});

const pod = (hostDevice: string | undefined): ResolvedWorkload => ({
  source: 'cni',
  id: 'abc123',
  name: 'ns/pod',
  netns: '/var/run/netns/cni-1',
  device: 'eth0',
  ...(hostDevice !== undefined ? { hostDevice } : {}),
  addresses: { v4: ['198.18.70.5'], v6: [] },
  labels: {},
});

describe("same-bridge traffic on a runtime's bridge", () => {
  it("hooks the pod's host-side veth its source reports (an ingress qdisc of Sluice's on the runtime's device)", () => {
    const { state } = compilePolicy(externalPolicy(pod('veth1234')));
    expect(ingressOf(state.qdiscs, 'veth1234')).toEqual([expect.objectContaining({ netns: 'sl-rt' })]);
    expect(hookNodes(state.filters, 'veth1234')).toEqual(['40000000/f0000000@0 c6124601/ffffffff@16 -> pass (ffff0001)', '40000000/f0000000@0 c6124600/ffffff00@16 -> egress-redirect sl-rifb0']);
  });

  it('hooks nothing where no host-side veth is known (a Docker container on several networks)', () => {
    const { state } = compilePolicy(externalPolicy(pod(undefined)));
    expect(state.qdiscs.filter((q) => q.spec.kind === 'ingress').map((q) => q.dev)).toEqual(['sl-rbr0']);
  });
});
