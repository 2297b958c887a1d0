// IPv6 dual-stack: one container's IPv4 and IPv6 flows share one class, so together they
// stop at its ceiling and get its share. "both" (g40, ceiling 80) sends over both
// families, "v4" (g20) over IPv4 only, "v6" (g10) over IPv6 only, all at priority 1.
// Alone, "both" gets 80 mbit/s (not 80 per family, nor IPv6 in the default class); all
// busy, the oracle splits the link 4:2:1 (57.1 / 28.6 / 14.3 mbit/s). Both directions,
// each container within 3% of the link.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CompiledPolicy } from '../../src/compile';
import type { DemoDeps } from '../../src/demo/run';
import type { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { closeSandbox, dualStackPolicy, judgeFlows, openSandbox } from '../support/dualStack';
import { describeKernel, removeNamespaces } from '../support/kernel';

const { policy, judge } = dualStackPolicy('v6d-', [
  { name: 'both', octet: 10, rates: '{ guarantee: 40mbit, ceiling: 80mbit, priority: 1 }' },
  { name: 'v4', octet: 11, rates: '{ guarantee: 20mbit, priority: 1 }' },
  { name: 'v6', octet: 12, rates: '{ guarantee: 10mbit, priority: 1 }' },
]);

describeKernel('IPv6 dual-stack: IPv4 and IPv6 flows of one container share its guarantee and ceiling', ['ip', 'nsenter'], () => {
  let deps: DemoDeps | undefined;
  let kernel: RtnlKernel | undefined;
  let compiled: CompiledPolicy;

  beforeAll(async () => {
    await removeNamespaces('sl-v6d-');
    ({ deps, kernel, compiled } = await openSandbox(policy));
  });

  afterAll(async () => {
    await closeSandbox(deps, kernel, policy);
    await removeNamespaces('sl-v6d-');
  });

  for (const direction of ['download', 'upload'] as Direction[]) {
    it(`${direction}: both families of one container together stop at its ceiling, and share by guarantee`, async () => {
      const both = [
        { container: 'both', family: 4 },
        { container: 'both', family: 6 },
      ] as const;
      const alone = await judgeFlows(judge, compiled, direction, both, 5, 0.03);
      console.log(`${alone.pass ? 'PASS' : 'FAIL'} dual-stack ceiling ${direction}\n${formatVerdict(alone)}`);
      const shared = await judgeFlows(judge, compiled, direction, [...both, { container: 'v4', family: 4 }, { container: 'v6', family: 6 }], 6, 0.03);
      console.log(`${shared.pass ? 'PASS' : 'FAIL'} dual-stack share ${direction}\n${formatVerdict(shared)}`);
      expect(alone.containers.map((c) => [c.id, c.pass])).toEqual([['both', true]]);
      expect(shared.containers.map((c) => [c.id, c.pass])).toEqual([['both', true], ['v4', true], ['v6', true]]);
      expect(alone.pass && shared.pass).toBe(true);
    }, 120_000);
  }
});
