// The demo's destination-classes part, without a kernel: its shipped policy is valid,
// names the containers its phase drives and puts the cluster peer in the set "cluster"
// and the demo's peer in the default set "internet"; the oracle fed from it (sets as
// groups of (container, set) flows) shows case (a): each pod's internet traffic held to
// its 20 mbit/s, the cluster flow given the rest of the link.
import { describe, expect, it } from 'vitest';
import { DESTINATIONS_PEER, DESTINATIONS_PHASE, DESTINATIONS_POLICY } from '../../src/demo/destinationsDemo';
import { PEER_LINK } from '../../src/demo/peer';
import { policyJudge, writtenSetTree } from '../../src/demo/written';
import { loadPolicyFromPaths } from '../../src/sources/files/read';
import type { Policy } from '../../src/policy/model';

async function casePolicy(): Promise<Policy> {
  const r = await loadPolicyFromPaths([DESTINATIONS_POLICY]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

const inSet = (cidr: string, address: string): boolean => {
  const [net, len] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((s, o) => s * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(len));
  return (n(net!) & mask) >>> 0 === (n(address) & mask) >>> 0;
};

describe('the demo: destination classes, case (a)', () => {
  it('ships a valid policy whose sets hold the peers the part routes, with the containers its phase drives', async () => {
    const policy = await casePolicy();
    const sets = policy.host.peers!;
    const cluster = sets.find((s) => s.name === 'cluster')!;
    expect(cluster.cidrs4.some((c) => inSet(c, DESTINATIONS_PEER.link.peer))).toBe(true);
    expect(cluster.cidrs4.some((c) => inSet(c, PEER_LINK.peer))).toBe(false);
    expect(sets.find((s) => s.isDefault)?.name).toBe('internet');
    const names = new Set(policy.containers.map((c) => c.name));
    for (const key of DESTINATIONS_PHASE.active) expect(names.has(key.split('@')[0]!), key).toBe(true);
  });

  it('is judged per (container, set) flow: 20 each to the internet, the rest of the link to the cluster', async () => {
    const policy = await casePolicy();
    expect(writtenSetTree(policy).containers.map((c) => c.name).sort()).toEqual(['crawler@cluster', 'crawler@internet', 'frontend@cluster', 'frontend@internet']);
    for (const direction of ['download', 'upload'] as const) {
      const { capacity, ideal } = policyJudge(policy).expect(direction, DESTINATIONS_PHASE.active);
      expect(capacity).toBe(100e6);
      expect(Object.fromEntries([...ideal].filter(([k]) => k.includes('@')).map(([k, v]) => [k, Math.round(v / 1e5) / 10]))).toEqual({ 'crawler@cluster': 0, 'crawler@internet': 20, 'frontend@cluster': 60, 'frontend@internet': 20 });
    }
  });
});
