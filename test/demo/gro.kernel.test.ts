// GRO/GSO: traffic that reaches the trees in 64 KiB packets, as from a NIC with GRO or a
// veth Sluice did not make. The peer's veth and the containers' veths are left at the
// kernel's default GSO size (Sluice caps the ones it makes at 16 KiB), and the demo's
// phases must still be within 3% of the link of the oracle in both directions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/app/ownership';
import { nativeProbe } from '../../src/app/runtime';
import type { CompiledPolicy } from '../../src/compile';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { PEER_NETNS } from '../../src/demo/peer';
import { DEMO_PHASES } from '../../src/demo/scenario';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction, KernelState, LinkObject } from '../../src/tc/model';
import { isRoot, removeNamespaces, sh } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('gro-');
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
/** Well above the 16 KiB Sluice's own veths send: only GSO packets average this much. */
const GSO_AVERAGE_BYTES = 24_000;

const uncapped = (l: LinkObject): LinkObject => {
  const { gsoMaxSize: _dropped, ...rest } = l;
  return rest;
};
const withDefaultGso = (s: KernelState): KernelState => ({ ...s, links: s.links.map(uncapped) });

/** Average packet size HTB dequeued on `dev` over every container class (tc's own counters). */
async function averagePacketBytes(dev: string): Promise<number> {
  // tc prints HTB classes as text only: "class htb 1:10 parent 1:1 …" then " Sent B bytes P pkt …".
  const text = await sh('ip', ['netns', 'exec', policy.host.netns, 'tc', '-s', 'class', 'show', 'dev', dev]);
  let bytes = 0;
  let packets = 0;
  for (const block of text.split(/^class /m).slice(1)) {
    const sent = /Sent (\d+) bytes (\d+) pkt/.exec(block);
    if (!sent || !block.includes('parent 1:1')) continue;
    bytes += Number(sent[1]);
    packets += Number(sent[2]);
  }
  return packets > 0 ? bytes / packets : 0;
}

describe.skipIf(!isRoot)('GRO: 64 KiB packets from devices Sluice does not cap', () => {
  let deps: DemoDeps;
  let kernel: RtnlKernel;
  let compiled: CompiledPolicy;

  beforeAll(async () => {
    await removeNamespaces('sl-gro-');
    kernel = new RtnlKernel();
    deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
    compiled = await buildSandbox(deps, policy, () => undefined, { adjust: withDefaultGso, peerGso: 'kernel-default' });
  });

  afterAll(async () => {
    await teardownDemo(deps, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces('sl-gro-');
  });

  it('the peer veth is at the kernel default GSO size (64 KiB)', async () => {
    const [link] = JSON.parse(await sh('ip', ['-n', PEER_NETNS, '-d', '-j', 'link', 'show', 'eth0'])) as { gso_max_size: number }[];
    expect(link!.gso_max_size).toBe(65_536);
  });

  for (const [direction, dev] of [['download', policy.host.bridge], ['upload', policy.host.ifb]] as [Direction, string][]) {
    it(`${direction}: every phase within 3% of the link of the oracle, with GSO packets in the tree`, async () => {
      const results = await runPhases(deps, policy, compiled, sandboxSite(compiled), { phases: DEMO_PHASES, directions: [direction], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false, tolerance: TOLERANCE });
      for (const r of results) console.log(`GRO ${r.verdict.pass ? 'PASS' : 'FAIL'} ${direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
      const average = await averagePacketBytes(dev);
      console.log(`GRO ${direction}: HTB dequeued ${Math.round(average)} bytes per packet on average`);
      expect(average).toBeGreaterThan(GSO_AVERAGE_BYTES);
      expect(results.map((r) => `${r.phase.name}:${r.verdict.pass}`)).toEqual(DEMO_PHASES.map((p) => `${p.name}:true`));
    }, 120_000);
  }
});
