// The netlink KernelPort against the real kernel, in sl-kp* namespaces (198.18.11.0/24).
// Everything is removed in afterEach, also when a test fails.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/errors';
import { deleteNetns, listNetns } from '../../../src/kernel/native';
import { openNetlinkKernel } from '../../../src/kernel/netlink/kernel';
import type { KernelPort } from '../../../src/kernel/port';
import type { Operation } from '../../../src/plan/model';
import { diff } from '../../../src/plan/diff';
import { makeHandle, TC_H_INGRESS, TC_H_ROOT } from '../../../src/tc/handle';
import { ETH_P_ALL, ETH_P_IP, emptyKernelState, objectKey, type ClassObject, type FilterObject, type QdiscSpec, type KernelObject, type KernelState } from '../../../src/tc/model';
import { bitsPerSec, bytes } from '../../../src/units/units';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('kernel.kernel.test.ts skipped: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)');

const A = 'sl-kp-a';
const B = 'sl-kp-b';
let port: KernelPort;

beforeEach(async () => {
  port = await openNetlinkKernel();
});
afterEach(async () => {
  await port.close();
  for (const ns of listNetns().filter((n) => n.startsWith('sl-kp'))) deleteNetns(ns);
  expect(listNetns().filter((n) => n.startsWith('sl-kp'))).toEqual([]);
});

const create = (objects: readonly KernelObject[]): Operation[] => objects.map((object) => ({ op: 'create', object }));
const htbClass = (minor: number, rateMbit: number, parentMinor = 1): ClassObject => ({
  type: 'class', netns: A, dev: 'sl-kp-ifb', classid: makeHandle(1, minor), parent: makeHandle(1, parentMinor),
  spec: { kind: 'htb', rate: bitsPerSec(rateMbit * 1e6), ceil: bitsPerSec(100e6), burst: bytes(15_000), cburst: bytes(15_000), prio: 1, quantum: bytes(3000) },
});

function desired(): KernelState {
  const s = emptyKernelState();
  const filters: FilterObject[] = [
    { type: 'filter', netns: A, dev: 'sl-kp-ifb', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: 0x1000_0000, spec: { kind: 'u32', divisor: 256, keys: [] } },
    { type: 'filter', netns: A, dev: 'sl-kp-ifb', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: 0x8000_0800,
      spec: { kind: 'u32', link: 0x1000_0000, hashKey: { mask: 0xff, off: 16 }, keys: [{ value: 0xc6120b00, mask: 0xffffff00, off: 16 }] } },
    { type: 'filter', netns: A, dev: 'sl-kp-ifb', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: 0x1000_2800,
      spec: { kind: 'u32', keys: [{ value: 0xc6120b02, mask: 0xffffffff, off: 16 }], classid: makeHandle(1, 10) } },
    { type: 'filter', netns: A, dev: 'sl-kp-a0', parent: makeHandle(0xffff, 0), prio: 1, protocol: ETH_P_ALL, handle: 0x8000_0800,
      spec: { kind: 'u32', keys: [{ value: 0, mask: 0, off: 0 }], actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: 'sl-kp-ifb' }] } },
    { type: 'filter', netns: A, dev: 'sl-kp-a0', parent: makeHandle(1, 0), prio: 2, protocol: ETH_P_ALL, handle: 1,
      spec: { kind: 'bpf', program: 'netcls-classid', directAction: false } },
  ];
  return {
    ...s,
    namespaces: [{ type: 'namespace', name: A }, { type: 'namespace', name: B }],
    links: [
      { type: 'link', netns: A, name: 'sl-kp-br', up: true, spec: { kind: 'bridge' } },
      { type: 'link', netns: A, name: 'sl-kp-ifb', up: true, spec: { kind: 'ifb' } },
      { type: 'link', netns: A, name: 'sl-kp-a0', up: true, mtu: 1400, spec: { kind: 'veth', peerName: 'sl-kp-b0', peerNetns: B } },
      { type: 'link', netns: B, name: 'sl-kp-b0', up: true, spec: { kind: 'veth', peerName: 'sl-kp-a0', peerNetns: A } },
    ],
    addresses: [
      { type: 'address', netns: A, dev: 'sl-kp-a0', cidr: '198.18.11.1/24' },
      { type: 'address', netns: B, dev: 'sl-kp-b0', cidr: '198.18.11.2/24' },
    ],
    routes: [{ type: 'route', netns: B, dst: '198.18.12.0/24', via: '198.18.11.1', dev: 'sl-kp-b0' }],
    qdiscs: [
      { type: 'qdisc', netns: A, dev: 'sl-kp-ifb', handle: makeHandle(1, 0), parent: TC_H_ROOT, spec: { kind: 'htb', defaultMinor: 10, r2q: 10, directQlen: 32 } },
      { type: 'qdisc', netns: A, dev: 'sl-kp-a0', handle: makeHandle(0xffff, 0), parent: TC_H_INGRESS, spec: { kind: 'ingress' } },
      { type: 'qdisc', netns: A, dev: 'sl-kp-a0', handle: makeHandle(1, 0), parent: TC_H_ROOT, spec: { kind: 'htb', defaultMinor: 10, r2q: 10, directQlen: 32 } },
    ],
    classes: [
      { ...htbClass(1, 100), parent: makeHandle(1, 0) },
      htbClass(10, 10),
      htbClass(11, 20),
      { ...htbClass(1, 100), dev: 'sl-kp-a0', parent: makeHandle(1, 0) },
      { ...htbClass(10, 10), dev: 'sl-kp-a0' },
    ],
    filters,
  };
}

function ops(s: KernelState): Operation[] {
  const veth = s.links.filter((l) => !(l.netns === B && l.spec.kind === 'veth'));
  const peer = s.links.filter((l) => l.netns === B);
  return create([...s.namespaces, ...veth, ...s.addresses]).concat(
    peer.map((object): Operation => ({ op: 'change', object, before: { ...object, up: false }, fields: ['up'] })),
    create([...s.routes, ...s.qdiscs, ...s.classes, ...s.filters]),
  );
}

const keyed = (xs: readonly KernelObject[]): Map<string, KernelObject> => new Map(xs.map((x) => [objectKey(x), x]));

describe.runIf(isRoot)('netlink kernel port', () => {
  it('creates, observes the same objects, changes a class, deletes everything', async () => {
    const want = desired();
    const report = await port.execute(ops(want));
    expect(report.failed?.error.describe()).toBeUndefined();
    expect(report.skipped).toEqual([]);
    const seen = await port.observe({ netns: [A, B], withStats: false });
    expect(seen.namespaces.map((n) => n.name).filter((n) => n.startsWith('sl-kp')).sort()).toEqual([A, B]);
    for (const kind of ['links', 'addresses', 'routes', 'qdiscs', 'classes', 'filters'] as const) {
      const got = keyed(seen[kind]);
      for (const o of want[kind]) expect(got.get(objectKey(o)), objectKey(o)).toMatchObject(o as object);
    }
    expect(seen.links.filter((l) => l.name.startsWith('sl-')).length).toBe(4);
    expect(keyed(seen.links).get(`${A}/link/sl-kp-a0`)).toMatchObject({ spec: { kind: 'veth', peerName: 'sl-kp-b0', peerNetns: B } });
    // Other engineers' sl- namespaces may exist at the same time: compare only ours.
    expect(diff(want, { ...seen, namespaces: seen.namespaces.filter((n) => n.name.startsWith('sl-kp')) })).toEqual([]);
    expect(seen.filters.length).toBe(want.filters.length);
    expect(seen.classes.length).toBe(want.classes.length);

    const before = htbClass(11, 20);
    const after: ClassObject = { ...before, spec: { ...before.spec, rate: bitsPerSec(30e6), prio: 3, quantum: bytes(4500) } };
    const changed = await port.execute([{ op: 'change', object: after, before, fields: ['rate', 'prio', 'quantum'] }]);
    expect(changed.failed).toBeUndefined();
    const again = await port.observe({ netns: [A], withStats: false });
    expect(keyed(again.classes).get(objectKey(after))).toMatchObject(after);

    const removal: Operation[] = [...want.filters].reverse().map((object) => ({ op: 'delete', object }));
    removal.push(...[...want.classes].reverse().map((object): Operation => ({ op: 'delete', object })));
    removal.push(...want.qdiscs.map((object): Operation => ({ op: 'delete', object })));
    removal.push({ op: 'delete', object: want.links[2]! }, { op: 'delete', object: want.links[0]! }, { op: 'delete', object: want.links[1]! });
    const removed = await port.execute(removal);
    expect(removed.failed?.error.describe()).toBeUndefined();
    const empty = await port.observe({ netns: [A, B, 'sl-kp-missing'], withStats: false });
    expect(empty.links.filter((l) => l.name.startsWith('sl-'))).toEqual([]);
    expect([...empty.qdiscs, ...empty.classes, ...empty.filters, ...empty.routes, ...empty.addresses]).toEqual([]);
    await port.execute(want.namespaces.map((object) => ({ op: 'delete', object })));
    expect(listNetns().filter((n) => n.startsWith('sl-kp'))).toEqual([]);
  });

  it('EEXIST and ENOENT come back as KernelError naming the object, netns and kernel message', async () => {
    const ns = { type: 'namespace' as const, name: A };
    const ifb = { type: 'link' as const, netns: A, name: 'sl-kp-ifb', up: true, spec: { kind: 'ifb' as const } };
    const qdisc = desired().qdiscs[0]!;
    const setup = await port.execute(create([ns, ifb, qdisc]));
    expect(setup.failed).toBeUndefined();
    const twice = await port.execute(create([qdisc, htbClass(10, 10)]));
    // The kernel runs every request of a batch; the class after the refused qdisc was accepted.
    expect(twice.applied.map((o) => o.object.type)).toEqual(['class']);
    expect(twice.failed?.error).toBeInstanceOf(KernelError);
    expect(twice.failed?.error.errnoName).toBe('EEXIST');
    expect(twice.failed?.error.netns).toBe(A);
    expect(twice.failed?.error.object).toContain('qdisc');
    expect(twice.skipped).toEqual([]);
    const missing = await port.execute([{ op: 'delete', object: htbClass(99, 10) }]);
    expect(missing.failed?.error.errnoName).toBe('ENOENT');
    expect(missing.failed?.error.message).toContain(A);
    expect(missing.failed?.error.object).toContain('class');
    console.log(twice.failed?.error.describe(), '\n', missing.failed?.error.describe());
  });

  it('class counters move when traffic crosses a veth between two namespaces', async () => {
    const s = desired();
    const plan = create([...s.namespaces, s.links[2]!, ...s.addresses]).concat(
      [{ op: 'change', object: s.links[3]!, before: { ...s.links[3]!, up: false }, fields: ['up'] }],
      create([s.qdiscs[2]!, s.classes[3]!, s.classes[4]!]),
    );
    const r = await port.execute(plan);
    expect(r.failed?.error.describe()).toBeUndefined();
    const send = 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(20): s.sendto(b"x"*1000,("198.18.11.2",9))';
    await run('ip', ['netns', 'exec', A, 'python3', '-c', send]);
    const seen = await port.observe({ netns: [A], withStats: true });
    const stats = seen.stats.get(objectKey(s.classes[4]!));
    expect(stats?.packets).toBeGreaterThanOrEqual(5);
    expect(stats?.bytes).toBeGreaterThan(5000);
    expect(stats?.htb).toBeDefined();
  });
  it('pfifo, bfifo, tbf, clsact and a 40 Gbit/s HTB class read back as written', async () => {
    const ifb = (name: string): KernelObject => ({ type: 'link', netns: A, name, up: true, spec: { kind: 'ifb' } });
    const q = (dev: string, spec: QdiscSpec, parent = TC_H_ROOT, major = 2): KernelObject =>
      ({ type: 'qdisc', netns: A, dev, handle: makeHandle(major, 0), parent, spec });
    const fast: ClassObject = {
      type: 'class', netns: A, dev: 'sl-kp-q4', classid: makeHandle(2, 1), parent: makeHandle(2, 0),
      spec: { kind: 'htb', rate: bitsPerSec(40e9), ceil: bitsPerSec(100e9), burst: bytes(5_000_000), cburst: bytes(12_500_000), prio: 0, quantum: bytes(200_000) },
    };
    const objects: KernelObject[] = [
      { type: 'namespace', name: A }, ifb('sl-kp-q1'), ifb('sl-kp-q2'), ifb('sl-kp-q3'), ifb('sl-kp-q4'),
      q('sl-kp-q1', { kind: 'pfifo', limitPackets: 123 }),
      q('sl-kp-q1', { kind: 'clsact' }, TC_H_INGRESS, 0xffff),
      q('sl-kp-q2', { kind: 'bfifo', limitBytes: bytes(65_536) }),
      q('sl-kp-q3', { kind: 'tbf', rate: bitsPerSec(8e6), burst: bytes(32_000), limitBytes: bytes(100_000) }),
      q('sl-kp-q4', { kind: 'htb', defaultMinor: 1, r2q: 10, directQlen: 100 }),
      fast,
    ];
    const r = await port.execute(create(objects));
    expect(r.failed?.error.describe()).toBeUndefined();
    const seen = await port.observe({ netns: [A], withStats: false });
    const got = keyed([...seen.qdiscs, ...seen.classes]);
    for (const o of objects.filter((x) => x.type === 'qdisc')) expect(got.get(objectKey(o))).toEqual(o);
    const c = got.get(objectKey(fast)) as ClassObject;
    expect(c.spec.rate).toBe(fast.spec.rate);
    expect(c.spec.ceil).toBe(fast.spec.ceil);
    expect(diff({ ...emptyKernelState(), qdiscs: seen.qdiscs, classes: [fast] }, { ...emptyKernelState(), qdiscs: seen.qdiscs, classes: seen.classes })).toEqual([]);
  });
  it('a cgroup classid without a net_cls mount fails with how to mount it', async () => {
    const { netclsRoot } = await import('../../../src/kernel/cgroup');
    if (netclsRoot() !== undefined) return; // mounted here: the write path is exercised by the reconciler tests
    const r = await port.execute([{ op: 'create', object: { type: 'cgroup-classid', cgroup: 'sl-kp-cg', classid: makeHandle(1, 10) } }]);
    expect(r.failed?.error.errnoName).toBe('ENOENT');
    expect(r.failed?.error.hint).toContain('mount -t cgroup -o net_cls');
  });
});
