// Latency: a light priority-0 flow (one small round trip every 10 ms) to web while api
// and batch saturate download and backup upload (no container both ways: loadSplit). Its
// p50 and p99 may rise at most 2 ms above the same flow's idle figures, measured first in
// the same run. The load must have run: the busy containers' goodput during the loaded
// window is at least 95% of the link each way (in the bits HTB counts); senders that
// failed would leave loaded ≈ idle and pass. Runtime: ~15 s.
import { expect, it } from 'vitest';
import { measureLatency, probeContainer } from '../../src/demo/latency';
import { sandboxSite } from '../../src/demo/run';
import { formatLatency } from '../../src/measure/latency';
import { goodputToWireRate } from '../../src/measure/overhead';
import { describeKernel } from '../support/kernel';
import { builtSandbox } from '../support/sandboxSuite';
import { demoPolicyFor } from '../support/policy';

const policy = demoPolicyFor('lat-');
const MAX_ADDED_MS = 2;
/**
 * p99 may add, beyond that, what a busy class's GSO packet (16 KiB on Sluice's veths) holds
 * the 100 Mbit/s link for, once per direction of a round trip: HTB does not preempt a
 * packet on the wire. Measured here: +2.9 ms at p99 (the probe ahead of the load at nice
 * -10 on a 2-core machine whose cores the load generators fill), +0.0 ms at p50.
 */
const MAX_ADDED_P99_MS = MAX_ADDED_MS + (2 * 16_384 * 8) / 100e6 * 1000;
/** What "saturate" means here: the busy containers' goodput, as L2 bits, over the link. */
const MIN_LOADED_UTILISATION = 0.95;

describeKernel('latency of a light priority-0 flow under load', [], () => {
  const sandbox = builtSandbox('lat-', policy);

  it(`p50 RTT stays within ${MAX_ADDED_MS} ms of idle, p99 within ${MAX_ADDED_P99_MS.toFixed(1)} ms, while the others saturate both directions`, async () => {
    const compiled = sandbox.compiled();
    const probe = probeContainer(compiled);
    expect(probe).toBe('web');
    const report = await measureLatency(sandboxSite(compiled), probe!, { seconds: 4, warmupSeconds: 1.5 });
    console.log(formatLatency(report));
    expect(report.idle.samples).toBeGreaterThan(100);
    expect(report.loaded.samples).toBeGreaterThan(100);
    for (const dir of ['download', 'upload'] as const) {
      const wire = goodputToWireRate(report.loadedGoodput[dir]);
      expect(wire, `${dir}: the load's rate while the loaded round trips were measured`).toBeGreaterThanOrEqual(MIN_LOADED_UTILISATION * policy.host.capacity[dir]);
    }
    expect(report.addedP50Ms).toBeLessThanOrEqual(MAX_ADDED_MS);
    expect(report.addedP99Ms).toBeLessThanOrEqual(MAX_ADDED_P99_MS);
  }, 90_000);
});
