// The daemon is down while a runtime ADDs a pod: ADD still succeeds (the pod is recorded;
// a runtime must not fail pods because the shaper restarts), CHECK says the pod is not
// shaped, and `serve`, once started, shapes it in its first tick.
import { expect, it } from 'vitest';
import { classOnBridge, CNI_BRIDGE, CNI_HOST_NETNS, cniTestbed } from '../support/cni';
import { describeKernel } from '../support/kernel';

describeKernel('cni plugin while the daemon is down', [], () => {
  const bed = cniTestbed();
  const { rig } = bed;

  const classOf = (address: string): Promise<number | undefined> => classOnBridge(bed.kernel, CNI_HOST_NETNS, CNI_BRIDGE, address);

  it('ADD succeeds with no daemon; serve shapes the pod when it starts', async () => {
    const pod = { name: 'early', annotations: { 'sluice.dev/download-guarantee': '7mbit', 'sluice.dev/upload-guarantee': '3mbit' } };
    await rig.createPod(pod.name);
    const result = await rig.add(pod);
    const address = ((result['ips'] as { address: string }[])[0]!.address).split('/')[0]!;
    expect(await classOf(address)).toBeUndefined();
    const unshaped = await rig.check(pod);
    expect(unshaped.json).toMatchObject({ code: 100 });

    // start() runs its first tick before it returns: no timer tick is needed.
    bed.daemon = await rig.serve(bed.applier, 60_000);
    expect(await classOf(address)).toBeDefined();
    expect((await rig.check(pod)).code).toBe(0);
    expect((await rig.del(pod)).map((o) => o.code)).toEqual([0, 0]);
  }, 120_000);
});
