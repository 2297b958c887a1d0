import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { parsePolicyTexts } from '../../src/policy/load';
import { ETH_P_ALL } from '../../src/tc/model';

const text = (host: string, container: string): string => `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: h }
spec: { netns: sl-h, subnet: 198.18.0.0/24, ${host}capacity: { download: 100mbit, upload: 100mbit } }
---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: web }
spec: { match: { managed: sl-web }, address: 198.18.0.10, download: { guarantee: 10mbit }, upload: { guarantee: 10mbit } }
---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ext }
spec: { ${container}, download: { guarantee: 10mbit }, upload: { guarantee: 10mbit } }
`;

function policyOf(host: string, container: string) {
  const r = parsePolicyTexts([{ path: 'p.yaml', text: text(host, container) }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

describe('dual-stack compile', () => {
  const policy = policyOf('subnet6: "2001:2::/64", ', 'match: { ip: "2001:2:0:0::99" }');
  const compiled = compilePolicy(policy);
  const s = compiled.state;

  it("gives a managed container its IPv4 address in the Host's IPv6 prefix, a default route, and the bridge a router address", () => {
    expect(s.addresses.map((a) => `${a.netns} ${a.dev} ${a.cidr}`)).toEqual([
      'sl-h sl-br0 198.18.0.1/24',
      'sl-h sl-br0 2001:2::c612:1/64',
      'sl-h sl-br0 fe80::1/64',
      'sl-web eth0 198.18.0.10/24',
      'sl-web eth0 2001:2::c612:a/64',
    ]);
    expect(s.routes.map((r) => `${r.netns} ${r.dst} via ${r.via}`)).toEqual(['sl-web default via 198.18.0.1', 'sl-web ::/0 via 2001:2::c612:1']);
    expect(s.namespaces.every((n) => n.ipv6 === true)).toBe(true);
    expect(compiled.containers.map((c) => [c.name, c.address6])).toEqual([['web', '2001:2::c612:a'], ['ext', '2001:2::99']]);
  });

  it('classifies both families in one u32 instance per tree: IPv6 entries match the whole address into the IPv4 class', () => {
    const bridge = s.filters.filter((f) => f.dev === 'sl-br0' && f.spec.kind === 'u32');
    expect(new Set(bridge.map((f) => f.protocol))).toEqual(new Set([ETH_P_ALL]));
    const web = compiled.containers.find((c) => c.name === 'web')!.classes.download!.classid;
    const entry6 = bridge.find((f) => f.spec.kind === 'u32' && f.spec.keys.length === 4 && f.spec.classid === web)!;
    // Destination (download): words at 24..36 of the IPv6 header; bucket = last octet (0x0a).
    expect(entry6.spec.kind === 'u32' && entry6.spec.keys.map((k) => [k.off, k.value.toString(16)])).toEqual([[24, '20010002'], [28, '0'], [32, '0'], [36, 'c612000a']]);
    expect((entry6.handle >>> 12) & 0xff).toBe(0x0a);
    const ifbEntry = s.filters.find((f) => f.dev === 'sl-ifb0' && f.spec.kind === 'u32' && f.spec.keys.length === 4 && f.spec.classid === web)!;
    expect(ifbEntry.spec.kind === 'u32' && ifbEntry.spec.keys[0]!.off).toBe(8);
  });

  it('converges: compiling against its own state plans nothing', () => {
    expect(diff(compilePolicy(policy, { observed: s }).state, s)).toEqual([]);
  });

  it('stays IPv4-only without subnet6', () => {
    const v4 = compilePolicy(policyOf('', 'match: { ip: 198.18.0.99 }')).state;
    expect(v4.addresses.some((a) => a.cidr.includes(':'))).toBe(false);
    expect(v4.namespaces.some((n) => n.ipv6)).toBe(false);
    expect(v4.filters.some((f) => f.spec.kind === 'u32' && f.spec.keys.length === 4)).toBe(false);
  });

  it('refuses an IPv6 prefix too long to carry an IPv4 address', () => {
    const r = parsePolicyTexts([{ path: 'p.yaml', text: text('subnet6: "2001:2::/112", ', 'match: { ip: 198.18.0.99 }') }]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues.map((i) => i.message).join()).toContain('longer than /96');
  });
});
