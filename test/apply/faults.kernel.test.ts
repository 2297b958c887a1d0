// Ownership under faults: an apply meets a fault, then destroy, or a re-apply and destroy,
// must leave nothing behind: no sl- namespaces or links, no qdiscs on a bridge Sluice
// shapes but does not own, no record. A fault is one of FAULT_KINDS: the kernel refuses
// the Nth operation; the kernel applies the Nth operation and then reports an error; the
// process dies just after writing its ownership record, before sending anything. Each
// seed draws, for both hosts, a fault at a drawn position before each follow-up, and
// adds a crash (test/support/faultDraw.ts): 6 faults a seed. Seeds 1–5 always run (20
// drawn positions, 10 crashes), plus one random extra; every seed is printed, and
// SLUICE_FAULT_SEEDS=<seed>[,<seed>…] replays.
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
import { describeFault, drawFaults, FIXED_FAULT_SEEDS } from '../support/faultDraw';
import { CrashAfterWriteStore, externalBridgePolicy, FaultyKernel, InjectedCrash, leftovers, makeExternalBridge } from '../support/ownership';
import { seededRandom } from '../support/randomPolicy';
import { seedPlan } from '../support/seeds';
import { demoPolicyFor } from '../support/policy';

const EXT_NS = 'sl-fj-ext';
const EXT_BRIDGE = 'fj-br';
const plan = seedPlan('SLUICE_FAULT_SEEDS', FIXED_FAULT_SEEDS);

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
    console.log(`ownership faults: ${plan.banner}`);
  });

  afterAll(async () => {
    await kernel?.close();
    await removeNamespaces('sl-fi-');
    await removeNamespaces('sl-fj-');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const seed of plan.seeds) {
    it(`seed ${seed}: nothing is left after the fault, whatever the step and kind`, async () => {
      const random = seededRandom(seed);
      for (const c of cases) {
        const store = new FileOwnershipStore(join(dir, String(seed)));
        const total = (await new Applier(kernel, store, nativeProbe, features).plan(c.policy)).plan.length;
        for (const { fault, then } of drawFaults(random, total, seed)) {
          const context = `seed ${seed} (SLUICE_FAULT_SEEDS=${seed}), ${c.label}, ${describeFault(fault, total)}, then ${then}`;
          console.log(context);
          if (fault.kind === 'crash-after-record') {
            const dying = new Applier(kernel, new CrashAfterWriteStore(store), nativeProbe, features);
            await expect(dying.apply(c.policy), context).rejects.toThrow(InjectedCrash);
            // Nothing was sent; the record names what the apply was about to make.
            expect(await store.read(c.policy.host.name), context).toBeDefined();
          } else {
            const faulty = new Applier(new FaultyKernel(kernel, fault.at, fault.kind), store, nativeProbe, features);
            const failed = await faulty.apply(c.policy);
            expect(failed.report.failed, context).toBeDefined();
            expect(failed.report.applied.length, context).toBe(fault.at - 1);
          }
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
