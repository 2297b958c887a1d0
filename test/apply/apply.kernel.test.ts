// apply / destroy and the reconciler on the real kernel, in sl-at… namespaces.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { silentLogger } from '../../src/ports/logger';
import { systemClock } from '../../src/ports/clock';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { bridgeAddress } from '../../src/kernel/rtnl/messages';
import { BridgeFullError } from '../../src/apply/errors';
import { BRIDGE_MAX_PORTS } from '../../src/shape/namespaces';
import { formatHandle } from '../../src/tc/handle';
import { Reconciler } from '../../src/reconcile/reconciler';
import { describeKernel, netnsList, removeNamespaces } from '../support/kernel';
import { demoPolicyFor } from '../support/policy';

const run = promisify(execFile);
const PREFIX = 'at-';
const policy = demoPolicyFor(PREFIX);
const host = policy.host.netns;

describeKernel('apply and destroy (real kernel)', [], () => {
  let kernel: RtnlKernel;
  let applier: Applier;
  const store = new MemoryOwnershipStore();

  beforeAll(async () => {
    await removeNamespaces(`sl-${PREFIX}`);
    kernel = new RtnlKernel();
    applier = new Applier(kernel, store, nativeProbe, await detectFeatures());
  });

  afterAll(async () => {
    await applier.destroy(policy.host.name, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces(`sl-${PREFIX}`);
  });

  it('converges, then a second apply changes nothing', async () => {
    const first = await applier.apply(policy);
    expect(first.report.failed).toBeUndefined();
    expect(first.report.applied.length).toBeGreaterThan(50);
    const second = await applier.apply(policy);
    expect(second.plan).toEqual([]);
  });

  it('makes its namespaces IPv4-only and its bridge without multicast snooping (what a thousand containers cost to bring up)', async () => {
    const container = policy.containers.find((c) => c.match.kind === 'managed')!;
    const netns = container.match.kind === 'managed' ? container.match.netns : '';
    const { stdout: v6 } = await run('ip', ['-n', netns, '-6', '-o', 'addr', 'show']);
    expect(v6).toBe('');
    const { stdout: bridge } = await run('ip', ['-n', host, '-d', '-j', 'link', 'show', policy.host.bridge]);
    const [shown] = JSON.parse(bridge) as { linkinfo: { info_data: { mcast_snooping: number } } }[];
    expect(shown!.linkinfo.info_data.mcast_snooping).toBe(0);
  });

  it("keeps its bridge's address when a port with a lower one joins and leaves (containers' ARP entries for the gateway stay right)", async () => {
    const address = async (): Promise<{ address: string }> => {
      const { stdout } = await run('ip', ['-n', host, '-d', '-j', 'link', 'show', policy.host.bridge]);
      return (JSON.parse(stdout) as { address: string }[])[0]!;
    };
    const before = await address();
    expect(before.address).toBe([...bridgeAddress(host, policy.host.bridge)].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    await run('ip', ['-n', host, 'link', 'add', 'sl-lowmac', 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'sl-lowmac-p']);
    try {
      await run('ip', ['-n', host, 'link', 'set', 'sl-lowmac', 'master', policy.host.bridge]);
      expect((await address()).address).toBe(before.address);
    } finally {
      await run('ip', ['-n', host, 'link', 'del', 'sl-lowmac']);
    }
    expect((await address()).address).toBe(before.address);
  });

  it('refuses, before any change, a policy needing more ports than a Linux bridge has', async () => {
    const template = policy.containers.find((c) => c.match.kind === 'managed')!;
    const extra = Array.from({ length: BRIDGE_MAX_PORTS }, (_, i) => ({ ...template, name: `many${i}`, match: { kind: 'managed' as const, netns: `sl-${PREFIX}many${i}` }, address: `198.19.${Math.floor(i / 250)}.${2 + (i % 250)}` }));
    const namespaces = await netnsList();
    const refused = await applier.apply({ ...policy, containers: [...policy.containers, ...extra] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BridgeFullError);
    expect((refused as BridgeFullError).message).toMatch(/containers need a port on bridge .* holds at most 1023/);
    expect(await netnsList()).toEqual(namespaces);
    expect((await applier.plan(policy)).plan).toEqual([]);
  });

  it('changing one container rate changes exactly one class', async () => {
    const faster = demoPolicyFor(PREFIX, (t) => t.replace('download: { guarantee: 10mbit, priority: 2 }', 'download: { guarantee: 15mbit, priority: 2 }'));
    const outcome = await applier.apply(faster);
    expect(outcome.plan).toHaveLength(1);
    expect(outcome.plan[0]).toMatchObject({ op: 'change', object: { type: 'class', dev: 'sl-br0' } });
    expect((await applier.apply(policy)).plan).toHaveLength(1);
  });

  it('the reconciler repairs drift within one tick and logs it; a restarted one adopts with zero changes', async () => {
    const reconciler = new Reconciler(applier, systemClock, silentLogger);
    reconciler.setPolicy(policy);
    expect((await reconciler.tick()).operations).toBe(0);
    const web = (await applier.plan(policy)).compiled.containers.find((c) => c.name === 'web')!;
    const classid = formatHandle(web.classes.download!.classid);
    // Behind Sluice's back: a class rate changed and a leaf queue deleted.
    await run('tc', ['-n', host, 'class', 'change', 'dev', 'sl-br0', 'parent', '1:1', 'classid', classid, 'htb', 'rate', '1mbit', 'ceil', '2mbit']);
    await run('tc', ['-n', host, 'qdisc', 'del', 'dev', 'sl-ifb0', 'parent', classid]);
    const repaired = await reconciler.tick();
    expect(repaired.driftRepairs).toBe(2);
    expect((await applier.plan(policy)).plan).toEqual([]);
    // Restarted: the same ownership record (a file under /run in production), a new process.
    const adopted = new Reconciler(new Applier(kernel, store, nativeProbe, await detectFeatures()), systemClock, silentLogger);
    adopted.setPolicy(policy);
    expect((await adopted.tick()).operations).toBe(0);
  });

  it('following the kernel\'s announcements (as serve does), ticks in which nothing changed skip the full read, and drift is still repaired within one tick', async () => {
    const following = new RtnlKernel({ followChanges: true });
    try {
      const watched = new Applier(following, store, nativeProbe, await detectFeatures());
      expect((await watched.apply(policy)).report.failed).toBeUndefined();
      const reconciler = new Reconciler(watched, systemClock, silentLogger);
      reconciler.setPolicy(policy);
      // Until the kernel has announced the new devices' carrier, a tick may still read in full.
      await expect.poll(async () => (await watched.plan(policy)).observed.revision === (await watched.plan(policy)).observed.revision, { timeout: 8000, interval: 500 }).toBe(true);
      expect((await reconciler.tick()).operations).toBe(0);
      const web = (await watched.plan(policy)).compiled.containers.find((c) => c.name === 'web')!;
      const classid = formatHandle(web.classes.upload!.classid);
      await run('tc', ['-n', host, 'class', 'change', 'dev', 'sl-ifb0', 'parent', '1:1', 'classid', classid, 'htb', 'rate', '1mbit', 'ceil', '2mbit']);
      const repaired = await reconciler.tick();
      expect(repaired.driftRepairs).toBe(1);
      expect((await reconciler.tick()).operations).toBe(0);
    } finally {
      await following.close();
    }
  });

  it('in a namespace it did not create, it touches only its own sl- devices', async () => {
    const foreignHost = `sl-${PREFIX}ext`;
    await run('ip', ['netns', 'add', foreignHost]);
    await run('ip', ['-n', foreignHost, 'link', 'add', 'br-theirs', 'type', 'bridge']);
    await run('tc', ['-n', foreignHost, 'qdisc', 'add', 'dev', 'br-theirs', 'root', 'handle', '1:', 'htb']);
    const attached = demoPolicyFor('ax-', (t) => t.replace('netns: sl-host', `netns: /run/netns/${foreignHost}`));
    const separate = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
    try {
      expect((await separate.apply(attached)).report.failed).toBeUndefined();
      expect((await separate.apply(attached)).plan).toEqual([]);
      expect((await separate.destroy(attached.host.name, attached)).report.failed).toBeUndefined();
      const links = await run('ip', ['-n', foreignHost, '-br', 'link']);
      expect(links.stdout).toMatch(/br-theirs/);
      expect(links.stdout).not.toMatch(/sl-br0/);
      expect((await run('tc', ['-n', foreignHost, 'qdisc', 'show', 'dev', 'br-theirs'])).stdout).toMatch(/htb 1:/);
      expect(await netnsList()).toContain(foreignHost);
    } finally {
      await run('ip', ['netns', 'del', foreignHost]).catch(() => undefined);
      await removeNamespaces('sl-ax-');
    }
  });

  it('destroy removes every namespace it made and nothing else', async () => {
    await run('ip', ['netns', 'add', 'sl-at-bystander']);
    try {
      const outcome = await applier.destroy(policy.host.name, policy);
      expect(outcome.report.failed).toBeUndefined();
      const left = await netnsList();
      expect(left.filter((n) => n.startsWith(`sl-${PREFIX}`))).toEqual(['sl-at-bystander']);
      expect(await store.read(policy.host.name)).toBeUndefined();
    } finally {
      await run('ip', ['netns', 'del', 'sl-at-bystander']);
    }
  });
});
