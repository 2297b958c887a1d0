// The traffic rig's phase switch on a real shaped path: a paused sender's socket buffers
// hold megabytes that drain at its class's rate, so a phase that starts at the pause counts
// a sender that should be idle (and, on the other direction, queues a container's ACKs
// behind them: seed 704971272's upload draw, docs/decisions.md). switchTo starts the
// next phase only once every byte the paused senders wrote has arrived.
// Download, link 100 Mbit/s: a (ceiling 20 Mbit/s, 2 flows) sends for 3 s, then the rig
// switches to b. Runtime budget: ≤ 25 s (sandbox, ~3 s of traffic, the drain, 1.5 s after).
import { expect, it } from 'vitest';
import { buildSandbox, sandboxSite } from '../../src/demo/run';
import { TrafficRig } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { describeKernel } from '../support/kernel';
import { sandboxContainerText, sandboxHostText } from '../support/randomPolicy';
import { sandboxSuite } from '../support/sandboxSuite';

const PREFIX = 'tr-';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function policy(): Policy {
  const a = { name: 'a', guaranteeKbit: 10_000, ceilingKbit: 20_000, priority: 4 };
  const b = { name: 'b', guaranteeKbit: 10_000, ceilingKbit: undefined, priority: 4 };
  const text = `${sandboxHostText(PREFIX, 'host', 100)}${sandboxContainerText(PREFIX, a, 0)}${sandboxContainerText(PREFIX, b, 1)}`;
  const r = parsePolicyTexts([{ path: 'traffic.yaml', text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

describeKernel('the traffic rig between phases', [], () => {
  const suite = sandboxSuite(PREFIX, 'traffic rig: a phase starts after the paused senders drained');

  it("starts the next phase only once a paused sender's bytes have all arrived", async () => {
    const deps = suite.deps();
    const compiled = await buildSandbox(deps, suite.uses(policy()), () => undefined);
    const site = sandboxSite(compiled);
    const rig = await TrafficRig.start({ ...site, containers: site.containers.map((c) => ({ ...c, flows: 2 })), directions: ['download'] });
    const bytesOfA = (): number => rig.receivedBytes('download').get('a') ?? 0;
    try {
      rig.setActive('download', ['a']);
      await sleep(3000);
      const pausedAt = monotonicMs();
      const atPause = bytesOfA();
      const from = await rig.switchTo('download', ['b']);
      const atStart = bytesOfA();
      await sleep(1500);
      const later = bytesOfA();
      console.log(`traffic rig: a's bytes kept arriving for ${Math.round(from - pausedAt)} ms after its pause (${((atStart - atPause) / 1e6).toFixed(2)} MB); after b started: ${later - atStart} bytes`);
      // The premise: without the wait, these bytes would have fallen in b's phase.
      expect(atStart).toBeGreaterThan(atPause);
      expect(later).toBe(atStart);
    } finally {
      await rig.stop();
    }
  }, 45_000);
});
