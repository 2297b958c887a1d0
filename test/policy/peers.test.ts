import { describe, expect, it } from 'vitest';
import { brief, issuesOf, load } from '../support/policyTexts';
import { writtenGuarantee } from '../../src/policy/peers';
import { bitsPerSec } from '../../src/units/units';

const host = (peers: string, extra = ''): string => `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: h }
spec:
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
${extra}  peers:
${peers}`;

const CLUSTER_AND_INTERNET = `    cluster: [198.19.0.0/16, 2001:2:ffff::/48]
    internet: { capacity: { download: 50mbit, upload: 40mbit } }
`;

const pod = (name: string, download: string, upload = download): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { managed: sl-${name} }
  download: ${download}
  upload: ${upload}
`;

describe('destinations: peer sets as written', () => {
  it('reads the sets (the default last, capacities defaulted to the link) and every container rate per set', () => {
    const p = load(host(CLUSTER_AND_INTERNET), pod('a', '{ peers: { internet: { ceiling: 30mbit } } }'), pod('b', '{ guarantee: 50mbit, priority: 2, peers: { cluster: { guarantee: 30mbit }, internet: { guarantee: 20mbit, priority: 1 } } }'));
    expect(p.host.peers).toEqual([
      { name: 'cluster', cidrs4: ['198.19.0.0/16'], cidrs6: ['2001:2:ffff::/48'], isDefault: false, capacity: { download: 100e6, upload: 100e6 } },
      { name: 'internet', cidrs4: [], cidrs6: [], isDefault: true, capacity: { download: 50e6, upload: 40e6 } },
    ]);
    const [a, b] = p.containers;
    expect(a!.bandwidth.download).toEqual({ guarantee: 0, ceiling: 100e6, priority: 4, peers: { cluster: { guarantee: 0, ceiling: 100e6, priority: 4 }, internet: { guarantee: 0, ceiling: 30e6, priority: 4 } } });
    expect(a!.bandwidth.upload.peers!.internet).toEqual({ guarantee: 0, ceiling: 30e6, priority: 4 });
    // Left out, a ceiling in a set is the container's own (the link): the set's class caps it at 40.
    expect(b!.bandwidth.upload.peers).toEqual({ cluster: { guarantee: 30e6, ceiling: 100e6, priority: 2 }, internet: { guarantee: 20e6, ceiling: 100e6, priority: 1 } });
    expect(b!.bandwidth.download.guarantee).toBe(50e6);
  });

  it('names an implicit default set "default" when every set has cidrs', () => {
    const p = load(host('    cluster: { cidrs: [198.19.0.0/16] }\n'), pod('a', '{ peers: { default: { ceiling: 10mbit } } }'));
    expect(p.host.peers!.map((s) => [s.name, s.isDefault])).toEqual([['cluster', false], ['default', true]]);
    expect(p.containers[0]!.bandwidth.download.peers!.default!.ceiling).toBe(10e6);
  });

  it('a policy without peer sets is read as before', () => {
    const p = load(host('').replace('  peers:\n', ''), pod('a', '{ guarantee: 10mbit }'));
    expect(p.host.peers).toBeUndefined();
    expect(p.containers[0]!.bandwidth.download).toEqual({ guarantee: 10e6, ceiling: 100e6, priority: 4 });
  });

  it('refuses a guarantee over all peers that is not the sum of per-set ones, saying what to write', () => {
    const issues = issuesOf(host(CLUSTER_AND_INTERNET), pod('c', '{ guarantee: 60mbit, peers: { internet: { guarantee: 20mbit } } }', '{ guarantee: 10mbit }'));
    expect(brief(issues)).toEqual([
      expect.stringMatching(/^f1:7 spec.download.guarantee: the download guarantee over all peers \(60mbit\) spans the peer sets' subtrees \(cluster, internet\)/),
      expect.stringMatching(/^f1:8 spec.upload.guarantee: the upload guarantee over all peers \(10mbit\) spans/),
    ]);
    expect(issues[0]!.hint).toContain('peers: { internet: { guarantee: 20mbit }, cluster: { guarantee: 40mbit } }');
  });

  it('refuses a ceiling over all peers below the link: per-set ceilings instead', () => {
    const issues = issuesOf(host(CLUSTER_AND_INTERNET), pod('c', '{ ceiling: 60mbit }', '{}'));
    expect(brief(issues)).toEqual([expect.stringMatching(/^f1:7 spec.download.ceiling: the download ceiling over all peers \(60mbit\) spans/)]);
    expect(issues[0]!.hint).toContain('cluster: { ceiling: … }');
  });

  it('refuses overlapping sets, two defaults, unknown sets, per-set rates without sets, and guarantees above a set', () => {
    const both = `    cluster: [198.19.0.0/16, 2001:2::/32]
    near: [198.19.4.0/24]
    far: [2001:2:1::/48]
    internet: { capacity: { download: 50mbit } }
    other: {}
`;
    expect(brief(issuesOf(host(both)))).toEqual([
      'f0:9 spec.peers.near.0: 198.19.4.0/24 overlaps 198.19.0.0/16 of peer set "cluster"',
      'f0:10 spec.peers.far.0: 2001:2:1::/48 overlaps 2001:2::/32 of peer set "cluster"',
      'f0:12 spec.peers.other: peer sets "internet" and "other" both leave out cidrs: only one set can be the default (every peer in no other set)',
    ]);
    expect(brief(issuesOf(host(CLUSTER_AND_INTERNET), pod('a', '{ peers: { lan: { ceiling: 1mbit } } }', '{ peers: { internet: { guarantee: 30mbit }, cluster: { ceiling: 200mbit } } }'), pod('b', '{ peers: { internet: { guarantee: 20mbit } } }')))).toEqual([
      'f1:7 spec.download.peers.lan: unknown peer set "lan"',
      'f1:8 spec.upload.peers.cluster.ceiling: upload ceiling 200mbit for peer set "cluster" is above the set\'s capacity 100mbit',
      'f0:7 spec.peers: upload guarantees in peer set "internet" add up to 50mbit, above its capacity 40mbit',
    ]);
    expect(brief(issuesOf(host('').replace('  peers:\n', ''), pod('a', '{ peers: { internet: { ceiling: 1mbit } } }', '{ guarantee: 1mbit }')))).toEqual([
      'f1:7 spec.download.peers: per-set rates, but the Host names no peer sets',
      'f1:7 spec.download.guarantee: download guarantee is missing',
    ]);
  });

  it('refuses a schedule patching rates over all peers on a Host with peer sets (its classes are per set)', () => {
    const schedule = `---
apiVersion: sluice.dev/v1
kind: Schedule
metadata: { name: night }
spec:
  cron: "0 1 * * *"
  duration: 2h
  patches:
    - container: a
      download: { ceiling: 50mbit }
`;
    expect(brief(issuesOf(host(CLUSTER_AND_INTERNET), pod('a', '{}'), schedule))).toEqual([expect.stringMatching(/^f2:\d+ spec.patches.0.download: a schedule patches a's download rates over all peers, but this Host has peer sets/)]);
  });

  it('refuses a set capacity above the link, and peer sets with groups or cgroup matches (not kept by this tree)', () => {
    expect(brief(issuesOf(host('    internet: { capacity: { upload: 1gbit } }\n')))).toEqual([
      expect.stringMatching(/^f0:8 spec.peers.internet.capacity.upload: peer set "internet"'s upload capacity 1gbit is above the link's 100mbit/),
    ]);
    const cgroup = pod('a', '{ guarantee: 0mbit }').replace('managed: sl-a', 'cgroup: sl-agent');
    expect(brief(issuesOf(host(CLUSTER_AND_INTERNET), cgroup))).toEqual([expect.stringMatching(/^f1:\d+ spec.match: a cgroup-matched container cannot have per-set classes/)]);
  });
});

describe('writtenGuarantee (admission counts what validation keeps)', () => {
  it('is the sum of the per-set guarantees when a document gives them, whatever its overall one says', () => {
    const rate = (n: number) => bitsPerSec(n * 1e6);
    expect(writtenGuarantee({ priority: 4, peers: { cluster: { guarantee: rate(180) }, internet: { guarantee: rate(20) } } })).toBe(200e6);
    expect(writtenGuarantee({ guarantee: rate(0), priority: 4, peers: { internet: { guarantee: rate(20) }, cluster: {} } })).toBe(20e6);
    expect(writtenGuarantee({ guarantee: rate(30), priority: 4 })).toBe(30e6);
    expect(writtenGuarantee({ priority: 4 })).toBe(0);
  });
});
