// The kernel port against the real kernel, in throwaway sl-kt* namespaces: what is
// created is dumped back equal, changed in place, deleted without leftovers; the
// kernel's refusals come back as typed errors naming object, namespace and message;
// counters move with traffic.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../../src/apply/applier';
import { MemoryOwnershipStore } from '../../../src/ports/ownership';
import { nativeProbe } from '../../../src/wiring/runtime';
import { KernelError } from '../../../src/errors';
import { diff } from '../../../src/plan/diff';
import { makeHandle } from '../../../src/tc/handle';
import { emptyKernelState, type ClassObject, type ObservedState } from '../../../src/tc/model';
import { objectKey } from '../../../src/tc/identity';
import { A, B, desiredState, u32 } from './fixture';
import { RtnlKernel, type RtnlKernelOptions } from '../../../src/kernel/rtnl/port';
import { detectFeatures } from '../../../src/kernel/rtnl/features';
import { describeKernel, netnsList, removeNamespaces, sh } from '../../support/kernel';
import { startLoadgenSender, startLoadgenServer } from '../../../src/loadgen/driver';
import type { NetlinkChannelFactory } from '../../../src/kernel/netlink/channel';
import { nativeChannelFactory } from '../../../src/kernel/netlink/nativeChannel';
import { NLM_F, RTM } from '../../../src/kernel/rtnl/constants';

interface PortUnderTest {
  kernel: RtnlKernel;
  applier: Applier;
}

/** A kernel port and an Applier on it for one describe, and the sl-kt- namespaces removed after each test. */
function portUnderTest(options: RtnlKernelOptions): PortUnderTest {
  const port = {} as PortUnderTest;
  beforeAll(async () => {
    await removeNamespaces('sl-kt-');
    port.kernel = new RtnlKernel(options);
    port.applier = new Applier(port.kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  });
  afterEach(async () => {
    await port.applier.converge(emptyKernelState(), [A, B]).catch(() => undefined);
    await removeNamespaces('sl-kt-');
  });
  afterAll(async () => {
    await port.kernel.close();
    expect((await netnsList()).filter((n) => n.startsWith('sl-kt-'))).toEqual([]);
  });
  return port;
}

/** One second of the project's load generator from A to B, through the bridge's HTB tree. */
async function oneSecondOfTraffic(tcpPort: number, id: string): Promise<void> {
  const server = await startLoadgenServer({ netns: B, listen: { host: '198.18.11.2', port: tcpPort } });
  try {
    const sender = await startLoadgenSender({ netns: A, to: { host: '198.18.11.2', port: tcpPort }, id, durationS: 1 });
    await sender.exited;
  } finally {
    await server.stop(500);
  }
}

describeKernel('kernel port (rtnetlink) on the real kernel', [], () => {
  const port = portUnderTest({});

  it('create → dump equals what was asked → change one class → dump → delete → nothing left', async () => {
    const created = await port.applier.converge(desiredState(), [A, B]);
    expect(created.report.failed).toBeUndefined();
    const observed = await port.applier.observe([A, B], desiredState(), false);
    expect(diff(desiredState(), observed)).toEqual([]);
    expect(observed.links.find((l) => l.name === 'sl-v')?.spec).toEqual({ kind: 'veth', peerName: 'eth0', peerNetns: B });

    const changed = desiredState(30e6);
    const plan = diff(changed, observed);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ op: 'change', object: { type: 'class' }, fields: ['rate'] });
    expect((await port.kernel.execute(plan)).failed).toBeUndefined();
    expect(diff(changed, await port.applier.observe([A, B], changed, false))).toEqual([]);
    expect(await sh('tc', ['-n', A, 'class', 'show', 'dev', 'sl-br', 'classid', '1:10'])).toMatch(/rate 30Mbit/);

    const removed = await port.applier.converge(emptyKernelState(), [A, B]);
    expect(removed.report.failed).toBeUndefined();
    expect((await netnsList()).filter((n) => n.startsWith('sl-kt-'))).toEqual([]);
  });

  it('EEXIST, ENOENT and EINVAL come back naming the object, the namespace and the kernel message', async () => {
    await port.applier.converge(desiredState(), [A, B]);
    const cls = desiredState().classes[2]!;
    const again = await port.kernel.execute([{ op: 'create', object: cls }]);
    expect(again.failed?.error).toBeInstanceOf(KernelError);
    expect(again.failed?.error).toMatchObject({ errnoName: 'EEXIST', netns: A });
    expect(again.failed?.error.message).toMatch(/^create class htb 1:10 .* on sl-br in netns sl-kt-a failed: EEXIST/);
    expect(again.failed?.error.hint).toMatch(/sluice plan/);

    const orphan: ClassObject = { ...cls, classid: makeHandle(5, 1), parent: makeHandle(5, 0) };
    const missing = await port.kernel.execute([{ op: 'create', object: orphan }]);
    expect(missing.failed?.error.errnoName).toBe('ENOENT');

    const badTable = { ...desiredState().filters[0]!, handle: u32(3, 0, 0), spec: { kind: 'u32' as const, divisor: 3, keys: [] } };
    const invalid = await port.kernel.execute([{ op: 'create', object: badTable }]);
    expect(invalid.failed?.error.errnoName).toBe('EINVAL');
    expect(invalid.failed?.error.kernelMessage ?? '').not.toBe('');

    // Deleting what is already gone is success (a crashed apply can be re-run).
    expect((await port.kernel.execute([{ op: 'delete', object: orphan }])).failed).toBeUndefined();
  });

  it('counters move when traffic crosses the bridge (class bytes and packets)', async () => {
    await port.applier.converge(desiredState(), [A, B]);
    const key = objectKey(desiredState().classes[2]!);
    const before = (await port.kernel.observe({ netns: [A], withStats: true })).stats.get(key);
    await oneSecondOfTraffic(5999, 'kt');
    const after = (await port.kernel.observe({ netns: [A], withStats: true })).stats.get(key);
    // 1 s at the class's ceiling (100 mbit/s) is ~12 MB; ask for a clear fraction of it.
    expect(after!.bytes - before!.bytes).toBeGreaterThan(1_000_000);
    expect(after!.packets - before!.packets).toBeGreaterThan(100);
    expect(after!.htb).toBeDefined();
  });
});

describeKernel('kernel port following change announcements (as serve runs it)', [], () => {
  const port = portUnderTest({ followChanges: true });

  const observe = (withStats = false) => port.applier.observe([A, B], desiredState(), withStats);

  /**
   * The kernel announces a new device's carrier and operational state a moment after it
   * is made (linkwatch runs up to a second late, later on a busy machine): wait for quiet.
   */
  async function settled(): Promise<ObservedState> {
    let last = await observe(true);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const next = await observe(true);
      if (next.revision === last.revision) return next;
      last = next;
    }
    throw new Error('the kernel kept announcing changes for 6 s');
  }

  it('an unchanged kernel keeps its revision while counters still move', async () => {
    await port.applier.converge(desiredState(), [A, B]);
    const first = await settled();
    const second = await observe(true);
    expect(first.revision).toBeDefined();
    expect(second.revision).toBe(first.revision);
    expect(diff(desiredState(), second)).toEqual([]);
    const key = objectKey(desiredState().classes[2]!);
    await oneSecondOfTraffic(5998, 'kf');
    const after = await observe(true);
    expect(after.revision).toBe(first.revision);
    expect(after.stats.get(key)!.bytes - second.stats.get(key)!.bytes).toBeGreaterThan(1_000_000);
  });

  // Each change made behind Sluice's back, with tc and ip as an operator would.
  const changes: readonly (readonly [string, readonly string[]])[] = [
    ['a class rate', ['tc', '-n', A, 'class', 'change', 'dev', 'sl-br', 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', '5mbit', 'ceil', '100mbit']],
    ['a leaf qdisc', ['tc', '-n', A, 'qdisc', 'del', 'dev', 'sl-br', 'parent', '1:10']],
    ['a filter', ['tc', '-n', A, 'filter', 'del', 'dev', 'sl-ifb', 'parent', '1:', 'prio', '5']],
    ['a link state', ['ip', '-n', A, 'link', 'set', 'sl-v', 'down']],
    ['an address', ['ip', '-n', B, 'addr', 'del', '198.18.11.2/24', 'dev', 'eth0']],
    ['a route', ['ip', '-n', B, 'route', 'del', '198.18.12.0/24']],
  ];

  it.each(changes)('%s changed behind its back changes the revision, and the next observation shows it', async (_what, command) => {
    await port.applier.converge(desiredState(), [A, B]);
    const before = await observe();
    await sh(command[0]!, command.slice(1));
    const after = await observe();
    expect(after.revision).not.toBe(before.revision);
    const repair = diff(desiredState(), after);
    expect(repair.length).toBeGreaterThan(0);
    expect((await port.kernel.execute(repair)).failed).toBeUndefined();
    // Sluice's own repair is announced too; then it is quiet again. A link brought up is
    // announced once more when the kernel's link watch sets its operstate, up to a second
    // later (seen in CI: the revision moved after the repaired read), so quiet is awaited.
    const repaired = await observe();
    expect(diff(desiredState(), repaired)).toEqual([]);
    await expect.poll(async () => (await observe()).revision === (await observe()).revision, { timeout: 5_000, interval: 250 }).toBe(true);
  });

  it('a change the kernel does not announce (gso_max_size alone) is read after Sluice makes it, and found by the periodic full read when someone else does', async () => {
    const resyncing = new RtnlKernel({ followChanges: true, resyncEvery: 3 });
    const watched = new Applier(resyncing, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
    try {
      await watched.converge(desiredState(), [A, B]);
      const gso = async (): Promise<number | undefined> => (await watched.observe([A, B], desiredState(), false)).links.find((l) => l.netns === B && l.name === 'eth0')?.gsoMaxSize;
      expect(await gso()).toBe(16384);
      await sh('ip', ['-n', B, 'link', 'set', 'eth0', 'gso_max_size', '65536']);
      const seen: (number | undefined)[] = [];
      for (let i = 0; i < 5; i++) seen.push(await gso());
      expect(seen).toContain(65536);
      const repair = diff(desiredState(), await watched.observe([A, B], desiredState(), false));
      expect(repair.map((op) => op.op === 'change' && op.fields)).toEqual([['gsoMaxSize']]);
      expect((await resyncing.execute(repair)).failed).toBeUndefined();
      // Sluice's own change is not announced either: it reads what it changed.
      expect(await gso()).toBe(16384);
    } finally {
      await resyncing.close();
    }
  });

  it('a namespace deleted and made again under the same name is read afresh', async () => {
    await port.applier.converge(desiredState(), [A, B]);
    const before = await observe();
    expect(before.links.some((l) => l.netns === B && l.name === 'eth0')).toBe(true);
    await sh('ip', ['netns', 'del', B]);
    await sh('ip', ['netns', 'add', B]);
    const after = await observe();
    expect(after.revision).not.toBe(before.revision);
    expect(after.links.some((l) => l.netns === B && l.name === 'eth0')).toBe(false);
  });
});

/** Channels of the native factory that remember, per namespace, every device looked up by name (RTM_GETLINK, not a dump). */
function recordingLookups(): { factory: NetlinkChannelFactory; lookups: Map<string, number> } {
  const lookups = new Map<string, number>();
  const factory: NetlinkChannelFactory = {
    async open(ns) {
      const channel = await nativeChannelFactory.open(ns);
      return {
        netns: channel.netns,
        close: () => channel.close(),
        exchange(messages, seqs) {
          const single = messages.filter((m) => m.readUInt16LE(4) === RTM.GETLINK && (m.readUInt16LE(6) & NLM_F.DUMP) !== NLM_F.DUMP);
          lookups.set(ns, (lookups.get(ns) ?? 0) + single.length);
          return channel.exchange(messages, seqs);
        },
      };
    },
  };
  return { factory, lookups };
}

describeKernel('kernel port: a veth made into a new namespace', [], () => {
  const recorded = recordingLookups();
  const port = portUnderTest({ factory: recorded.factory });

  // Each new container's namespace cost a lookup round trip before its links, address and
  // route could be sent (20 a churn tick, each waited for in turn).
  it('is known there by the index its other end reports: no device looked up in that namespace', async () => {
    const created = await port.applier.converge(desiredState(), [A, B]);
    expect(created.report.failed).toBeUndefined();
    expect(recorded.lookups.get(B) ?? 0).toBe(0);
    expect(diff(desiredState(), await port.applier.observe([A, B], desiredState(), false))).toEqual([]);
    expect(await sh('ip', ['-n', B, '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).toMatch(/198\.18\.11\.2\/24/);
  });
});
