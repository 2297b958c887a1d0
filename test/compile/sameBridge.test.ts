// Traffic between two containers on Sluice's own bridge is routed through the bridge
// device (isolated ports, proxy ARP), so both trees shape it; a runtime's bridge, per-device
// mode and dual-stack hosts are left switched.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { changedLinkFields } from '../../src/plan/compare';
import type { LinkObject } from '../../src/tc/model';
import { demoPolicy } from '../support/policy';

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
