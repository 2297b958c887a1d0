// bench/peers --quick, asserting only what must hold whatever the machine's speed:
// Sluice uses the link with half its pods idle (≥ 95%, and more than the bandwidth
// plugin's static caps), holds every busy pod's guarantee to within 3% of the link,
// and drops nothing in its qdiscs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface DirectionFigures {
  readonly perPod: Record<string, number>;
  readonly utilisationIdle: number;
  readonly qdiscDrops: number;
}
interface PeersReport {
  readonly capacityBitsPerSec: number;
  readonly pods: readonly { name: string; guarantee: number }[];
  readonly results: Record<'none' | 'bandwidth' | 'sluice', { directions: Record<'download' | 'upload', DirectionFigures> }>;
}

describe('peers: Sluice beside the CNI bandwidth plugin and no shaping', () => {
  it('Sluice lends idle capacity, holds guarantees and drops nothing', async () => {
    const { stdout } = await run('npx', ['tsx', 'bench/peers.ts', '--quick', '--json'], { maxBuffer: 16 << 20, timeout: 280_000 });
    const report = JSON.parse(stdout) as PeersReport;
    const link = report.capacityBitsPerSec;
    for (const dir of ['download', 'upload'] as const) {
      const sluice = report.results.sluice.directions[dir];
      expect(sluice.utilisationIdle, `${dir}: utilisation with half the pods idle`).toBeGreaterThanOrEqual(0.95);
      expect(sluice.utilisationIdle, `${dir}: Sluice against the bandwidth plugin`).toBeGreaterThan(report.results.bandwidth.directions[dir].utilisationIdle);
      for (const pod of report.pods) expect(sluice.perPod[pod.name]!, `${dir}: ${pod.name}'s rate, all busy`).toBeGreaterThanOrEqual(pod.guarantee - 0.03 * link);
      expect(sluice.qdiscDrops, `${dir}: drops in Sluice's qdiscs`).toBe(0);
    }
  }, 300_000);
});
