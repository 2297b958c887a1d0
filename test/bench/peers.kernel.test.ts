// bench/peers --quick, asserting only what must hold whatever the machine's speed:
// Sluice uses the link with half its pods idle (≥ 95%, and more than the bandwidth
// plugin's static caps), holds every busy pod within 3% of the link of the oracle and at
// its relative floor (the oracle fed with the pods as the bench writes them), and drops
// nothing in its qdiscs. The setup rows are figures, not judged: --shares-only leaves them out,
// and --shaped-only the unshaped baseline (a third of the run).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { allocate } from '../../src/allocate/oracle';
import { writtenJudge } from '../../src/measure/judge';
import { relativeFloor } from '../../src/measure/verdict';
import { bitsPerSec } from '../../src/units/units';
import { describeKernel } from '../support/kernel';

const run = promisify(execFile);

interface DirectionFigures {
  readonly perPod: Record<string, number>;
  readonly utilisationIdle: number;
  readonly qdiscDrops: number;
}
interface PeersReport {
  readonly capacityBitsPerSec: number;
  readonly pods: readonly { name: string; guarantee: number; ceiling?: number; priority: number }[];
  /** --shaped-only: no unshaped baseline, nothing here is judged against it. */
  readonly results: Record<'bandwidth' | 'sluice', { directions: Record<'download' | 'upload', DirectionFigures> }>;
}

describeKernel('peers: Sluice beside the CNI bandwidth plugin', ['iperf3', 'nsenter'], () => {
  it('Sluice lends idle capacity, holds guarantees and drops nothing', async () => {
    const { stdout } = await run('npx', ['tsx', 'bench/peers.ts', '--quick', '--json', '--shares-only', '--shaped-only'], { maxBuffer: 16 << 20, timeout: 280_000 });
    const report = JSON.parse(stdout) as PeersReport;
    const link = bitsPerSec(report.capacityBitsPerSec);
    const judge = writtenJudge({
      capacity: { download: link, upload: link },
      containers: report.pods.map((p) => {
        const d = { guarantee: bitsPerSec(p.guarantee), priority: p.priority, ...(p.ceiling !== undefined ? { ceiling: bitsPerSec(p.ceiling) } : {}) };
        return { name: p.name, download: d, upload: d };
      }),
    }, allocate);
    for (const dir of ['download', 'upload'] as const) {
      const sluice = report.results.sluice.directions[dir];
      expect(sluice.utilisationIdle, `${dir}: utilisation with half the pods idle`).toBeGreaterThanOrEqual(0.95);
      expect(sluice.utilisationIdle, `${dir}: Sluice against the bandwidth plugin`).toBeGreaterThan(report.results.bandwidth.directions[dir].utilisationIdle);
      // Every pod busy: each within 3% of the link of its ideal, and at its floor (perPod is L2, as the oracle's rates).
      const allBusy = judge.expect(dir, report.pods.map((p) => p.name));
      for (const pod of allBusy.containers) {
        const measured = sluice.perPod[pod.id]!;
        const ideal = allBusy.ideal.get(pod.id)!;
        expect(Math.abs(measured - ideal), `${dir}: ${pod.id}'s rate ${measured} against its ideal ${ideal}, all busy`).toBeLessThanOrEqual(0.03 * link);
        expect(measured, `${dir}: ${pod.id}'s rate against its relative floor`).toBeGreaterThanOrEqual(relativeFloor(pod, ideal));
      }
      expect(sluice.qdiscDrops, `${dir}: drops in Sluice's qdiscs`).toBe(0);
    }
  }, 300_000);
});
