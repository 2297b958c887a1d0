// (a) The loadgen's steady goodput agrees with iperf3's on the same HTB-shaped path,
// measured one after the other in one test; and the L2 factor HTB charges is the computed one.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type LoadgenChild } from '../../src/loadgen/driver';
import { l2OverheadFactor } from '../../src/measure/overhead';
import { steadyRate } from '../../src/measure/rate';
import { classStats, createPath, iperf3Goodput, RECEIVER_ADDRESS, SENDER_ADDRESSES, shapeHtb, type Path } from './shapedPath';
import { describeKernel } from '../support/kernel';

const LINK_MBIT = 50;
const SECONDS = 5;
const WARMUP_S = 1;

describeKernel('loadgen: real kernel, shaped veth', ['iperf3', 'nsenter'], () => {
  let path: Path | undefined;
  const children: LoadgenChild[] = [];

  beforeEach(async () => {
    path = await createPath('a');
    await shapeHtb(path, LINK_MBIT, [{ minor: 0x10, rateMbit: LINK_MBIT, ceilMbit: LINK_MBIT, prio: 0 }]);
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop(500)));
    killAllLoadgens();
    await path?.destroy();
    path = undefined;
  });

  it('loadgen goodput agrees with iperf3 within 3% at 50mbit; HTB charges the computed L2 factor', async () => {
    if (path === undefined) throw new Error('no path');
    const server = await startLoadgenServer({ netns: path.receiver, listen: { host: RECEIVER_ADDRESS, port: 5201 } });
    children.push(server);
    const before = (await classStats(path)).get('1:10');
    const sender = await startLoadgenSender({
      netns: path.sender,
      to: { host: RECEIVER_ADDRESS, port: 5201 },
      bind: SENDER_ADDRESSES[0],
      id: 'lg',
      durationS: SECONDS + WARMUP_S,
    });
    children.push(sender);
    const started = (await sender.waitFor('connected')).t;
    await sender.exited;
    await server.waitFor('closed', (event) => event.id === 'lg');
    const after = (await classStats(path)).get('1:10');
    const loadgen = steadyRate(server.samples('lg'), { fromMs: started, warmupMs: WARMUP_S * 1000 });

    const iperf3 = await iperf3Goodput(path, SECONDS, WARMUP_S);

    const received = server.latestBytes('lg');
    const measuredFactor = ((after?.bytes ?? 0) - (before?.bytes ?? 0)) / received;
    console.log(
      `loadgen ${(loadgen / 1e6).toFixed(2)} mbit/s, iperf3 ${(iperf3 / 1e6).toFixed(2)} mbit/s, ratio ${(loadgen / iperf3).toFixed(4)}; ` +
        `HTB bytes / goodput bytes = ${measuredFactor.toFixed(4)} (computed ${l2OverheadFactor().toFixed(4)}); drops ${after?.drops}`,
    );
    expect(Math.abs(loadgen / iperf3 - 1)).toBeLessThan(0.03);
    expect(measuredFactor).toBeGreaterThan(l2OverheadFactor() - 0.005);
    expect(measuredFactor).toBeLessThan(l2OverheadFactor() + 0.005);
  });
});
