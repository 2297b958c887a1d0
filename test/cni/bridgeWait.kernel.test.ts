// serve started on a fresh node, before its first pod (as a DaemonSet's agent starts):
// the bridge the Host names does not exist until the CNI bridge plugin makes it. That is
// a normal state: the ticks wait quietly, say so once, and the first pod is shaped as
// soon as it is added.
import { expect, it } from 'vitest';
import type { Logger } from '../../src/ports/logger';
import { classOnBridge, CNI_BRIDGE, CNI_HOST_NETNS, cniTestbed, until } from '../support/cni';
import { describeKernel } from '../support/kernel';

describeKernel('cni: serve before the first pod waits for the bridge', [], () => {
  const bed = cniTestbed(async ({ rig }) => {
    await rig.del({ name: 'first' }).catch(() => undefined);
  });
  const { rig } = bed;

  it('no bridge yet: ticks wait and say so once, with no error; the first pod is shaped when it comes', async () => {
    const logged: { level: string; message: string }[] = [];
    const logger: Logger = { log: (level, message) => void logged.push({ level, message }) };
    const served = await rig.serveWith(bed.applier, 60_000, logger);
    bed.daemon = served.daemon;
    const ticks = [];
    for (let i = 0; i < 3; i++) ticks.push(await served.daemon.runTick());
    expect(ticks.map((t) => [t.error, t.waiting?.includes(`bridge ${CNI_BRIDGE} does not exist in namespace ${CNI_HOST_NETNS} yet`)])).toEqual([[undefined, true], [undefined, true], [undefined, true]]);
    expect(logged.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    expect(logged.filter((l) => l.message === 'waiting')).toHaveLength(1);

    await rig.createPod('first');
    const result = await rig.add({ name: 'first', annotations: { 'sluice.dev/download-guarantee': '7mbit' } });
    const address = ((result['ips'] as { address: string }[])[0]!.address).split('/')[0]!;
    await until(`${address} shaped`, async () => (await classOnBridge(bed.kernel, CNI_HOST_NETNS, CNI_BRIDGE, address)) !== undefined);
    expect((await served.daemon.runTick()).waiting).toBeUndefined();
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
  }, 120_000);
});
