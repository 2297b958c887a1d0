// IPv6: a container's IPv6 traffic is classified into its own class in both trees, so it
// cannot exceed its ceiling over IPv6 (unclassified, it would get the default class,
// whose ceiling is the link). One container busy alone, both directions.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CompiledPolicy } from '../../src/compile';
import type { DemoDeps } from '../../src/demo/run';
import type { RtnlKernel } from '../../src/kernel/rtnl/port';
import { formatVerdict } from '../../src/measure/verdict';
import type { Direction } from '../../src/tc/model';
import { PEER_NETNS } from '../../src/demo/peer';
import { ETHERNET_IPV6_TCP_TIMESTAMPS, goodputToWireRate } from '../../src/measure';
import { bitsPerSec } from '../../src/units/units';
import { closeSandbox, dualStackPolicy, iperf3Goodput6, judgeFlows, openSandbox } from '../support/dualStack';
import { describeKernel, removeNamespaces } from '../support/kernel';

const { policy, judge } = dualStackPolicy('v6c-', [
  { name: 'capped', octet: 10, rates: '{ guarantee: 10mbit, ceiling: 30mbit, priority: 0 }' },
  { name: 'other', octet: 11, rates: '{ guarantee: 20mbit, priority: 1 }' },
]);

describeKernel('IPv6: a container cannot exceed its ceiling over IPv6', ['ip', 'nsenter', 'iperf3'], () => {
  let deps: DemoDeps | undefined;
  let kernel: RtnlKernel | undefined;
  let compiled: CompiledPolicy;

  beforeAll(async () => {
    await removeNamespaces('sl-v6c-');
    ({ deps, kernel, compiled } = await openSandbox(policy));
  });

  afterAll(async () => {
    await closeSandbox(deps, kernel, policy);
    await removeNamespaces('sl-v6c-');
  });

  for (const direction of ['download', 'upload'] as Direction[]) {
    it(`${direction}: an IPv6 flow alone gets its 30 mbit/s ceiling, not the link`, async () => {
      const verdict = await judgeFlows(judge, compiled, direction, [{ container: 'capped', family: 6 }], 5, 0.03);
      console.log(`${verdict.pass ? 'PASS' : 'FAIL'} IPv6 ceiling ${direction}\n${formatVerdict(verdict)}`);
      expect(verdict.containers.map((c) => [c.id, c.pass])).toEqual([['capped', true]]);
      expect(verdict.pass).toBe(true);
    }, 90_000);
  }

  it('iperf3 -6 agrees: download to the capped container over IPv6 stays at its ceiling', async () => {
    const capped = compiled.containers.find((c) => c.name === 'capped')!;
    const goodput = await iperf3Goodput6(capped.netns!, capped.address6!, PEER_NETNS, 4, 2);
    const wire = goodputToWireRate(bitsPerSec(goodput), ETHERNET_IPV6_TCP_TIMESTAMPS);
    console.log(`iperf3 -6: goodput ${(goodput / 1e6).toFixed(2)} mbit/s, ${(wire / 1e6).toFixed(2)} mbit/s as HTB counts it; ceiling 30`);
    expect(Math.abs(wire - 30e6)).toBeLessThan(0.03 * 100e6);
  }, 60_000);
});
