// The daemon is down while a runtime ADDs a pod: ADD still succeeds (the pod is recorded;
// a runtime must not fail pods because the shaper restarts), CHECK says the pod is not
// shaped, and `serve`, once started, shapes it in its first tick.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/wiring/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import type { Daemon } from '../../src/daemon/serve';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { ipToInt } from '../../src/policy/subnet';
import { CNI_BRIDGE, CNI_HOST_NETNS, CniRig } from '../support/cni';
import { describeKernel } from '../support/kernel';

describeKernel('cni plugin while the daemon is down', [], () => {
  const rig = new CniRig();
  let kernel: RtnlKernel;
  let applier: Applier;
  let daemon: Daemon | undefined;

  const classOf = async (address: string): Promise<number | undefined> => {
    const observed = await kernel.observe({ netns: [CNI_HOST_NETNS], withStats: false, external: [{ netns: CNI_HOST_NETNS, dev: CNI_BRIDGE }] });
    const filter = observed.filters.find((f) => f.dev === CNI_BRIDGE && f.spec.kind === 'u32' && f.spec.classid !== undefined && f.spec.keys.some((k) => k.mask === 0xffffffff && k.value === ipToInt(address)));
    return filter?.spec.kind === 'u32' ? filter.spec.classid : undefined;
  };

  beforeAll(async () => {
    await rig.tearDown().catch(() => undefined);
    await rig.setUp();
    kernel = new RtnlKernel({ followChanges: true });
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    await applier?.destroy('cni-test').catch(() => undefined);
    await kernel?.close();
    await rig.tearDown();
  }, 60_000);

  it('ADD succeeds with no daemon; serve shapes the pod when it starts', async () => {
    const pod = { name: 'early', annotations: { 'sluice.dev/download-guarantee': '7mbit', 'sluice.dev/upload-guarantee': '3mbit' } };
    await rig.createPod(pod.name);
    const result = await rig.add(pod);
    const address = ((result['ips'] as { address: string }[])[0]!.address).split('/')[0]!;
    expect(await classOf(address)).toBeUndefined();
    const unshaped = await rig.check(pod);
    expect(unshaped.json).toMatchObject({ code: 100 });

    // start() runs its first tick before it returns: no timer tick is needed.
    daemon = await rig.serve(applier, 60_000);
    expect(await classOf(address)).toBeDefined();
    expect((await rig.check(pod)).code).toBe(0);
    expect((await rig.del(pod)).map((o) => o.code)).toEqual([0, 0]);
  }, 120_000);
});
