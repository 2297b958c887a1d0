// Ownership under faults: the kernel refuses the Nth operation of an apply (N drawn from a
// printed seed), then destroy, or a re-apply and destroy, must leave nothing behind: no
// sl- namespaces or links, no qdiscs on a bridge Sluice shapes but does not own, no record.
// Replay a run with SLUICE_FAULT_SEEDS=<seed>,<seed>.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { FileOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import type { KernelFeatures } from '../../src/compile';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { Policy } from '../../src/policy/model';
import { describeKernel, removeNamespaces, sh } from '../support/kernel';
import { externalBridgePolicy, FaultyKernel, leftovers, makeExternalBridge } from '../support/ownership';
import { seededRandom } from '../support/randomPolicy';
import { demoPolicyFor } from '../support/policy';

const EXT_NS = 'sl-fj-ext';
const EXT_BRIDGE = 'fj-br';
const seeds = process.env.SLUICE_FAULT_SEEDS ? process.env.SLUICE_FAULT_SEEDS.split(',').map(Number) : Array.from({ length: 4 }, () => Math.floor(Math.random() * 2 ** 31));

interface Case {
  readonly label: string;
  readonly prefix: string;
  readonly policy: Policy;
  /** Namespaces the test made (and keeps), looked into for sl- links. */
  readonly kept: readonly string[];
  readonly devices: readonly { netns: string; dev: string }[];
}

const cases: readonly Case[] = [
  { label: 'sandbox host', prefix: 'sl-fi-', policy: demoPolicyFor('fi-'), kept: [], devices: [] },
  { label: 'external bridge', prefix: 'sl-fj-', policy: externalBridgePolicy('fj-', EXT_NS, EXT_BRIDGE), kept: [EXT_NS], devices: [{ netns: EXT_NS, dev: EXT_BRIDGE }] },
];

describeKernel('ownership: a kernel failure at any step, then destroy or re-apply (seeded)', [], () => {
  let kernel: RtnlKernel;
  let features: KernelFeatures;
  let dir: string;

  beforeAll(async () => {
    await removeNamespaces('sl-fi-');
    await removeNamespaces('sl-fj-');
    await makeExternalBridge(EXT_NS, EXT_BRIDGE, '198.18.0.1/24');
    kernel = new RtnlKernel();
    features = await detectFeatures();
    dir = await mkdtemp(join(tmpdir(), 'sluice-faults-'));
    console.log(`ownership fault seeds: ${seeds.join(',')} (replay: SLUICE_FAULT_SEEDS=${seeds.join(',')})`);
  });

  afterAll(async () => {
    await kernel?.close();
    await removeNamespaces('sl-fi-');
    await removeNamespaces('sl-fj-');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const seed of seeds) {
    it(`seed ${seed}: nothing is left after the failure, whatever the step`, async () => {
      const random = seededRandom(seed);
      for (const c of cases) {
        const store = new FileOwnershipStore(join(dir, String(seed)));
        const total = (await new Applier(kernel, store, nativeProbe, features).plan(c.policy)).plan.length;
        for (const then of ['destroy', 'reapply'] as const) {
          const failAt = 1 + Math.floor(random() * total);
          const context = `seed ${seed}, ${c.label}, operation ${failAt} of ${total} fails, then ${then}`;
          const faulty = new Applier(new FaultyKernel(kernel, failAt), store, nativeProbe, features);
          const failed = await faulty.apply(c.policy);
          expect(failed.report.failed, context).toBeDefined();
          expect(failed.report.applied.length, context).toBe(failAt - 1);
          // A new process: the same record, a port that works.
          const next = new Applier(kernel, store, nativeProbe, features);
          if (then === 'reapply') {
            expect((await next.apply(c.policy)).report.failed, context).toBeUndefined();
            expect((await next.apply(c.policy)).plan, context).toEqual([]);
          }
          const destroyed = await next.destroy(c.policy.host.name);
          expect(destroyed.report.failed, context).toBeUndefined();
          // A deleted namespace takes its veths' other ends with it once the kernel's
          // namespace cleanup has run (asynchronously, after `ip netns del` returns).
          await expect.poll(() => leftovers(c.prefix, c.kept, c.devices), { timeout: 10_000, interval: 100, message: context }).toEqual([]);
          expect(await store.read(c.policy.host.name), context).toBeUndefined();
        }
      }
      // The bridge someone else made is still there, with its address.
      expect(await sh('ip', ['-n', EXT_NS, '-o', 'addr', 'show', 'dev', EXT_BRIDGE])).toMatch(/198\.18\.0\.1\/24/);
    });
  }
});
