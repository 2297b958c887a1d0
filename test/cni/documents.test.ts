import { describe, expect, it } from 'vitest';
import type { Attachment } from '../../src/cni/attachment';
import { guessHostSide, podAddresses } from '../../src/cni/attachment';
import { shapingProblems } from '../../src/cni/check';
import { cniDocuments, podPolicyName } from '../../src/cni/documents';
import { hostDocument } from '../../src/policy/schema';
import { parsePolicyTexts } from '../../src/policy/load';
import { compilePolicy } from '../../src/compile';
import type { KernelState } from '../../src/tc/model';

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

describe('cni documents', () => {
  it('maps runtimeConfig.bandwidth to ceilings and sluice.dev annotations to guarantees and priorities', () => {
    const a = pod('abcdef0123', {
      bandwidth: { ingressRate: 20_000_000, ingressBurst: 80_000, egressRate: 500_000_000 },
      annotations: { 'sluice.dev/upload-guarantee': '10mbit', 'sluice.dev/download-priority': '1' },
    });
    const out = cniDocuments([a], host);
    expect(out.waiting).toEqual([]);
    const spec = out.documents[0]!.value.spec as unknown as Record<string, Record<string, unknown>>;
    expect(spec['match']).toEqual({ ip: '198.18.32.10' });
    // egressRate above the link means no limit, as for the bandwidth plugin.
    expect(spec['download']).toEqual({ guarantee: '1mbit', ceiling: '20000000bit', priority: 1, burst: '10000b' });
    expect(spec['upload']).toEqual({ guarantee: '10mbit', priority: 4 });
    expect(out.bindings.get('web-0-abcdef01')).toEqual({ containerId: 'abcdef0123', workload: 'shop/web-0', netns: '/run/netns/abcdef0123', device: 'eth0' });
  });

  it('a pod whose annotations or address do not fit waits, the others are shaped', () => {
    const out = cniDocuments([pod('a1', { annotations: { 'sluice.dev/download-guarantee': 'lots' } }), pod('b2', { addresses: ['10.0.0.5'] }), pod('c3', { annotations: { 'sluice.dev/speed': '1' } }), pod('d4', { addresses: ['198.18.32.11'] })], host);
    expect(out.documents.map((d) => d.value.metadata.name)).toEqual(['web-0-d4']);
    expect(out.waiting.map((w) => w.reason)).toEqual([expect.stringContaining('sluice.dev/download-guarantee'), expect.stringContaining('outside the Host subnet'), expect.stringContaining('unknown annotation sluice.dev/speed')]);
  });

  it('pods of another bridge or network are not this Host\'s; names stay DNS labels', () => {
    expect(cniDocuments([pod('a1', { bridge: 'other0' })], host).documents).toEqual([]);
    expect(cniDocuments([pod('a1', { network: 'x' })], { ...host, cni: { ...host.cni!, network: 'pods' } }).documents).toEqual([]);
    expect(podPolicyName(pod('0123456789abcdef', { pod: { namespace: 'n', name: 'A_very_long_pod_name_from_a_statefulset-12' } }))).toMatch(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/);
  });

  it('the daemon compiles pods into classes the CHECK finds; without them CHECK names what is missing', () => {
    const file = { path: 'host.yaml', text: 'apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: node }\nspec: { netns: sl-cnihost, bridge: cni0, subnet: 198.18.32.0/24, capacity: { download: 100mbit, upload: 100mbit }, cni: {} }\n' };
    const docs = cniDocuments([pod('a1')], host);
    const loaded = parsePolicyTexts([file], { documents: docs.documents, issues: [] });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const policy = { ...loaded.policy, containers: loaded.policy.containers.map((c) => ({ ...c, cni: docs.bindings.get(c.name)! })) };
    const compiled = compilePolicy(policy);
    expect(compiled.containers[0]!.cni?.workload).toBe('shop/web-0');
    expect(compiled.state.links.some((l) => l.name === 'cni0' && l.spec.kind === 'external')).toBe(true);
    expect(compiled.state.links.some((l) => l.netns === '/run/netns/a1' && l.name === 'eth0' && l.spec.kind === 'external')).toBe(true);
    expect(shapingProblems(compiled.state, 'cni0', ['198.18.32.10'])).toEqual([]);
    const empty: KernelState = { ...compiled.state, classes: [] };
    expect(shapingProblems(empty, 'cni0', ['198.18.32.10'])).toEqual(['no download class for 198.18.32.10 on cni0', 'no upload class for 198.18.32.10 on sl-ifb0']);
  });

  it('finds the pod\'s addresses and host side in a bridge plugin\'s result', () => {
    const prev = { interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/x' }], ips: [{ address: '198.18.32.5/24', interface: 2 }, { address: '198.18.32.1/24', interface: 0 }] };
    expect(podAddresses(prev, 'eth0')).toEqual(['198.18.32.5']);
    expect(guessHostSide(prev)).toEqual({ bridge: 'cni0', hostVeth: 'veth1' });
  });
});
