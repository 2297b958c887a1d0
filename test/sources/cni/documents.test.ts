import { describe, expect, it } from 'vitest';
import type { Attachment } from '../../../src/cni/attachment';
import { guessHostSide, podAddresses } from '../../../src/cni/attachment';
import { shapingProblems } from '../../../src/cni/check';
import { ATTACHMENT_LABEL, cniDocuments, podPolicyName } from '../../../src/sources/cni/documents';
import { hostDocument } from '../../../src/policy/schema';
import { validateParsed } from '../../../src/policy/load';
import { parseFiles } from '../../../src/policy/documents';
import { resolveWorkloads } from '../../../src/sources/resolve';
import { compilePolicy } from '../../../src/compile';
import type { KernelState } from '../../../src/tc/model';

const HOST_YAML = 'apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: node }\nspec: { netns: sl-cnihost, bridge: cni0, ifb: sl-ifb0, subnet: 198.18.32.0/24, capacity: { download: 100mbit, upload: 100mbit }, cni: {} }\n';
const host = hostDocument.parse({
  apiVersion: 'sluice.dev/v1',
  kind: 'Host',
  metadata: { name: 'node' },
  spec: { netns: 'sl-cnihost', bridge: 'cni0', ifb: 'sl-ifb0', subnet: '198.18.32.0/24', capacity: { download: '100mbit', upload: '100mbit' }, cni: {} },
}).spec;

const pod = (id: string, extra: Partial<Attachment> = {}): Attachment => ({
  format: 1,
  network: 'pods',
  containerId: id,
  ifname: 'eth0',
  netns: `/run/netns/${id}`,
  hostVeth: `veth${id}`,
  bridge: 'cni0',
  addresses: ['198.18.32.10'],
  annotations: {},
  pod: { namespace: 'shop', name: 'web-0' },
  ...extra,
});

describe('cni source documents', () => {
  it('maps runtimeConfig.bandwidth to ceilings and sluice.dev annotations to guarantees and priorities', () => {
    const a = pod('abcdef0123', {
      bandwidth: { ingressRate: 20_000_000, ingressBurst: 80_000, egressRate: 500_000_000 },
      annotations: { 'sluice.dev/upload-guarantee': '10mbit', 'sluice.dev/download-priority': '1' },
    });
    const out = cniDocuments([a], host);
    expect(out.unshaped).toEqual([]);
    expect(out.defaults.map((d) => [d.workloadId, d.workload])).toEqual([['abcdef0123/eth0', 'shop/web-0']]);
    const doc = out.defaults[0]!.document.value;
    expect(doc.metadata.name).toBe('web-0-abcdef01');
    const spec = doc.spec as unknown as Record<string, Record<string, unknown>>;
    expect(spec['match']).toEqual({ cni: { labels: { [ATTACHMENT_LABEL]: 'abcdef0123/eth0' } } });
    // egressRate above the link means no limit, as for the bandwidth plugin.
    expect(spec['download']).toMatchObject({ guarantee: 1_000_000, ceiling: 20_000_000, priority: 1, burst: 10_000 });
    expect(spec['upload']).toMatchObject({ guarantee: 10_000_000, priority: 4 });
    expect(spec['upload']!['ceiling']).toBeUndefined();
    expect(out.workloads[0]).toMatchObject({ source: 'cni', id: 'abcdef0123/eth0', name: 'shop/web-0', netns: '/run/netns/abcdef0123', device: 'eth0', hostDevice: 'vethabcdef0123', addresses: { v4: ['198.18.32.10'], v6: [] } });
  });

  it('a pod whose annotations can never be valid is reported unshaped (invalid), the others get documents', () => {
    const out = cniDocuments([pod('a1', { annotations: { 'sluice.dev/download-guarantee': 'lots' } }), pod('c3', { annotations: { 'sluice.dev/speed': '1' } }), pod('d4', { addresses: ['198.18.32.11'] })], host);
    expect(out.defaults.map((d) => d.document.value.metadata.name)).toEqual(['web-0-d4']);
    expect(out.unshaped.map((w) => [w.workload, w.reason])).toEqual([['shop/web-0', 'invalid'], ['shop/web-0', 'invalid']]);
    expect(out.unshaped.map((w) => w.detail)).toEqual([expect.stringContaining('sluice.dev/download-guarantee "lots"'), expect.stringContaining('unknown annotation sluice.dev/speed')]);
  });

  it('pods come in the order the plugin recorded them (the order they are admitted in)', () => {
    const out = cniDocuments([pod('a1', { addedAt: 300 }), pod('b2', { addedAt: 100 }), pod('c3', { addedAt: 200 })], host);
    expect(out.defaults.map((d) => d.workloadId)).toEqual(['b2/eth0', 'c3/eth0', 'a1/eth0']);
  });

  it('pods of another bridge or network are not this Host\'s; names stay DNS labels', () => {
    expect(cniDocuments([pod('a1', { bridge: 'other0' })], host).defaults).toEqual([]);
    expect(cniDocuments([pod('a1', { network: 'x' })], { ...host, cni: { ...host.cni!, network: 'pods' } }).defaults).toEqual([]);
    expect(podPolicyName(pod('0123456789abcdef', { pod: { namespace: 'n', name: 'A_very_long_pod_name_from_a_statefulset-12' } }))).toMatch(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/);
  });

  it('resolves and compiles into classes the CHECK finds on the external bridge; without them CHECK names what is missing', () => {
    const made = cniDocuments([pod('a1'), pod('b2', { addresses: ['10.0.0.5'] })], host);
    const parsed = parseFiles([{ path: 'host.yaml', text: HOST_YAML }]);
    const loaded = validateParsed(['host.yaml'], () => parsed, { documents: made.defaults.map((d) => d.document), issues: [] });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const resolved = resolveWorkloads(loaded.policy, new Map([['cni', { snapshot: { documents: [], issues: [], workloads: made.workloads, origin: '/run/sluice/cni' }, noun: 'CNI pod' }]]));
    expect(resolved.waiting.map((w) => w.reason)).toEqual([expect.stringContaining('outside the Host subnet')]);
    const compiled = compilePolicy(resolved.policy);
    expect(compiled.containers.map((c) => c.workload?.name)).toEqual(['shop/web-0']);
    expect(compiled.state.links.some((l) => l.name === 'cni0' && l.spec.kind === 'external')).toBe(true);
    expect(compiled.state.links.some((l) => l.netns === '/run/netns/a1')).toBe(false);
    expect(shapingProblems(compiled.state, 'cni0', ['198.18.32.10'])).toEqual([]);
    const empty: KernelState = { ...compiled.state, classes: [] };
    expect(shapingProblems(empty, 'cni0', ['198.18.32.10'])).toEqual(['no download class for 198.18.32.10 on cni0', 'no upload class for 198.18.32.10 on sl-ifb0']);
  });

  it('a dual-stack pod (prevResult ips of both versions) gets its IPv6 address classified into its class', () => {
    const prev = { interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/x' }], ips: [{ address: '198.18.32.10/24', interface: 2 }, { address: '2001:2:0:0::c612:200a/64', interface: 2 }] };
    const made = cniDocuments([pod('a1', { addresses: podAddresses(prev, 'eth0') })], host);
    expect(made.workloads[0]!.addresses).toEqual({ v4: ['198.18.32.10'], v6: ['2001:2:0:0::c612:200a'] });
    const text = HOST_YAML.replace('subnet: 198.18.32.0/24,', 'subnet: 198.18.32.0/24, subnet6: 2001:2::/64,');
    const parsed = parseFiles([{ path: 'host.yaml', text }]);
    const loaded = validateParsed(['host.yaml'], () => parsed, { documents: made.defaults.map((d) => d.document), issues: [] });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const resolved = resolveWorkloads(loaded.policy, new Map([['cni', { snapshot: { documents: [], issues: [], workloads: made.workloads, origin: '/run/sluice/cni' }, noun: 'CNI pod' }]]));
    const compiled = compilePolicy(resolved.policy);
    expect(compiled.containers.map((c) => [c.address, c.address6])).toEqual([['198.18.32.10', '2001:2::c612:200a']]);
    const classid = compiled.containers[0]!.classes.download!.classid;
    // An IPv6 entry matches the address as four 32-bit words.
    const v6 = compiled.state.filters.filter((f) => f.dev === 'cni0' && f.spec.kind === 'u32' && f.spec.classid === classid && f.spec.keys.length === 4);
    expect(v6).toHaveLength(1);
  });

  it('finds the pod\'s addresses and host side in a bridge plugin\'s result', () => {
    const prev = { interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/x' }], ips: [{ address: '198.18.32.5/24', interface: 2 }, { address: '198.18.32.1/24', interface: 0 }] };
    expect(podAddresses(prev, 'eth0')).toEqual(['198.18.32.5']);
    expect(guessHostSide(prev)).toEqual({ bridge: 'cni0', hostVeth: 'veth1' });
  });
});
