// GRO/GSO: traffic that reaches the trees in 64 KiB packets, as from a NIC with GRO. The
// peer's veth and the containers' veths are at the kernel's default GSO size (Sluice caps
// none of them), and the demo's phases, scaled to 500 Mbit/s and to 1 Gbit/s (TCP sizes
// its GSO packets to ~1 ms of its rate, so only at such rates are they large), must be
// within 3% of the link of the oracle both ways, every busy container at or above its floor.
// The oracle's "busy" is a class that always has a packet waiting; this machine's TCP,
// BBR, drains its own queue on purpose (ProbeBW's 0.75 pacing, ProbeRTT's 200 ms at 4
// packets every 10 s, the flows of one container in step), and HTB rightly lends what a
// drained class leaves. Four flows per container keep its class backlogged through one
// flow's drain; 5.5 s measured per phase keep a ProbeRTT of all of them under 1.5% of the
// link (docs/decisions.md, "GRO shares").
// Only the phases where classes compete run here (CI budget, ~100 s for the file): a lone
// borrower ('lend') and the same senders again ('idle', 'return') are the demo's at 100 Mbit/s.
import { expect, it } from 'vitest';
import { runPhases, sandboxSite } from '../../src/demo/run';
import { PEER_NETNS } from '../../src/demo/peer';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { describeKernel, sh } from '../support/kernel';
import { builtSandbox } from '../support/sandboxSuite';
import { demoJudge, demoPolicyFor } from '../support/policy';

const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const FLOWS = 4;
const PHASE_SECONDS = 7;
/**
 * Priority 0 against 1 ('rank'), 2:1 at one priority ('share'), and a priority-0 class
 * arriving at queues the others filled with GSO packets ('priority', where the misses were).
 */
const GRO_PHASES = DEMO_PHASES.filter((p) => ['rank', 'share', 'priority'].includes(p.name));
/**
 * Above the 16 KiB a capped device sends and the ~12.5 KB of 1 ms at 100 Mbit/s: only
 * large GSO packets average this much. Four flows per container at these rates average
 * 25–41 KB (smallest: upload at 500 Mbit/s, where each flow has a quarter of its class).
 */
const GSO_AVERAGE_BYTES = 20_000;

interface LinkStats {
  readonly stats64: { readonly rx: { readonly bytes: number; readonly packets: number }; readonly tx: { readonly bytes: number; readonly packets: number } };
}

/** The demo policy with every rate × `factor` (100 Mbit/s × factor). */
for (const factor of [5, 10]) {
  const scaled = (t: string): string => t.replace(/(\d+)mbit/g, (_, n: string) => `${Number(n) * factor}mbit`);
  const policy = demoPolicyFor('gro-', scaled);
  const judge = demoJudge(scaled);
  const link = `${factor * 100} Mbit/s`;

  /**
   * Bytes and packets through the host end of the peer's veth: a veth counts one packet
   * per skb (HTB's own counters count GSO segments), so bytes/packets is the size of
   * the packets the trees were handed (rx: download) and sent (tx: upload).
   */
  const peerVethCounters = async (): Promise<LinkStats['stats64']> => {
    const [stats] = JSON.parse(await sh('ip', ['-n', policy.host.netns, '-s', '-j', 'link', 'show', 'sl-peer'])) as LinkStats[];
    return stats!.stats64;
  };

  describeKernel(`GRO: 64 KiB packets at ${link}`, [], () => {
    const sandbox = builtSandbox('gro-', policy);

    it('the peer veth and the containers\' veths are at the kernel default GSO size (64 KiB)', async () => {
      const [peer] = JSON.parse(await sh('ip', ['-n', PEER_NETNS, '-d', '-j', 'link', 'show', 'eth0'])) as { gso_max_size: number }[];
      expect(peer!.gso_max_size).toBe(65_536);
      const [web] = JSON.parse(await sh('ip', ['-n', 'sl-gro-web', '-d', '-j', 'link', 'show', 'eth0'])) as { gso_max_size: number }[];
      expect(web!.gso_max_size).toBe(65_536);
    });

    for (const direction of ['download', 'upload'] as Direction[]) {
      it(`${direction}: every phase within 3% of the link of the oracle, with GSO packets in the tree`, async () => {
        const before = await peerVethCounters();
        const compiled = sandbox.compiled();
        const site = sandboxSite(compiled);
        const results = await runPhases(sandbox.deps(), compiled, { ...site, containers: site.containers.map((c) => ({ ...c, flows: FLOWS })) }, {
          judge,
          phases: GRO_PHASES,
          directions: [direction],
          phaseSeconds: PHASE_SECONDS,
          warmupSeconds: 1.5,
          out: () => undefined,
          live: false,
          tolerance: TOLERANCE,
        });
        for (const r of results) console.log(`GRO ${link} ${r.verdict.pass ? 'PASS' : 'FAIL'} ${direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
        const after = await peerVethCounters();
        const side = direction === 'download' ? 'rx' : 'tx';
        const average = (after[side].bytes - before[side].bytes) / Math.max(1, after[side].packets - before[side].packets);
        console.log(`GRO ${link} ${direction}: ${Math.round(average)} bytes per packet through the peer's veth on average`);
        expect(average).toBeGreaterThan(GSO_AVERAGE_BYTES);
        expect(results.map((r) => `${r.phase.name}:${r.verdict.pass}`)).toEqual(GRO_PHASES.map((p) => `${p.name}:true`));
      }, 120_000);
    }
  });
}
