import { describe, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { ForeignObjectError } from '../../src/apply/errors';
import { Ownership, createdObjects, touchesShared, withPinned } from '../../src/apply/ownership';
import { BASELINE_FEATURES } from '../../src/tc/features';
import type { ExecutionReport, KernelPort } from '../../src/kernel/port';
import type { Plan } from '../../src/tc/operation';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { demoPolicy } from '../support/policy';
import { recordAhead, recordedOwnership, recordSettled } from '../../src/apply/record';
import { diff } from '../../src/plan/diff';
import { makeHandle, TC_H_INGRESS, TC_H_ROOT } from '../../src/tc/handle';
import { emptyKernelState, HOST_NETNS, type ClassObject, type FilterObject, type KernelObject, type LinkObject, type ObservedState, type QdiscObject } from '../../src/tc/model';
import { objectKey } from '../../src/tc/identity';
import { bitsPerSec, bytes } from '../../src/units/units';

const ns = 'sl-h';
const bridge: LinkObject = { type: 'link', netns: ns, name: 'sl-br0', up: true, spec: { kind: 'bridge' } };
const foreignLink: LinkObject = { type: 'link', netns: ns, name: 'fx0', up: true, spec: { kind: 'bridge' } };
const htb: QdiscObject = { type: 'qdisc', netns: ns, dev: 'sl-br0', handle: makeHandle(1, 0), parent: TC_H_ROOT, spec: { kind: 'htb', defaultMinor: 2, r2q: 10 } };
const ingress: QdiscObject = { type: 'qdisc', netns: ns, dev: 'sl-br0', handle: makeHandle(0xffff, 0), parent: TC_H_INGRESS, spec: { kind: 'ingress' } };
const spec = { kind: 'htb' as const, rate: bitsPerSec(1e6), ceil: bitsPerSec(1e6), burst: bytes(1600), cburst: bytes(1600), prio: 0, quantum: bytes(1600) };
const strangerClass: ClassObject = { type: 'class', netns: ns, dev: 'sl-br0', classid: makeHandle(1, 9), parent: makeHandle(1, 0), spec };
const strangerFilter: FilterObject = { type: 'filter', netns: ns, dev: 'sl-br0', parent: makeHandle(0xffff, 0), prio: 40000, protocol: 0x0800, handle: 0x80000800, spec: { kind: 'u32', keys: [] } };

const observed = (objects: Partial<ObservedState>): ObservedState => ({ ...emptyKernelState(), stats: new Map(), ...objects });
const keys = (...objects: KernelObject[]): ReadonlySet<string> => new Set(objects.map(objectKey));
const recordOf = (...objects: KernelObject[]) => recordedOwnership(recordAhead(undefined, { host: 'h', hostNetns: ns, external: [], transient: new Set() }, objects));

describe('ownership by record (pure)', () => {
  it('hides a foreign link in a namespace Sluice created, reports it, and keeps the namespace on destroy', () => {
    const owned = new Ownership(recordOf({ type: 'namespace', name: ns }, bridge));
    const view = owned.view(observed({ namespaces: [{ type: 'namespace', name: ns }], links: [bridge, foreignLink] }), new Set());
    expect(view.foreign).toEqual([foreignLink]);
    expect(view.pinned.map(objectKey)).toEqual([`netns/${ns}`]);
    const plan = diff(withPinned(emptyKernelState(), view.pinned), view.observed);
    expect(plan).toEqual([{ op: 'delete', object: bridge }]);
  });

  it('refuses a device the policy would create that exists and is not recorded', () => {
    const view = new Ownership(recordOf({ type: 'namespace', name: ns })).view(observed({ links: [bridge] }), keys(bridge));
    expect(view.conflicts).toEqual([{ reason: 'exists', object: bridge }]);
  });

  it('owns a stranger\'s class inside an HTB tree it recorded, but not a stranger\'s filter on its ingress hook', () => {
    const owned = new Ownership(recordOf(bridge, htb, ingress));
    const view = owned.view(observed({ links: [bridge], qdiscs: [htb, ingress], classes: [strangerClass], filters: [strangerFilter] }), keys(bridge, htb));
    expect(view.observed.classes).toEqual([strangerClass]);
    expect(view.foreign).toEqual([strangerFilter]);
    // The hook holding the foreign filter, and the device under it, are kept.
    expect(view.pinned.map(objectKey).sort()).toEqual([objectKey(ingress)].sort());
  });

  it('shares a foreign object the policy names when it is equal, and refuses to change it', () => {
    const view = new Ownership(recordOf(bridge)).view(observed({ links: [bridge], qdiscs: [ingress] }), keys(bridge, ingress));
    expect(view.shared.has(objectKey(ingress))).toBe(true);
    const changed: QdiscObject = { ...ingress, spec: { kind: 'clsact' } };
    expect(touchesShared([{ op: 'delete', object: ingress }, { op: 'create', object: changed }], view.shared)).toHaveLength(1);
  });

  it('records both ends of a veth ahead of creating it, and forgets what left the policy', () => {
    const veth: LinkObject = { type: 'link', netns: ns, name: 'sl-a', up: true, spec: { kind: 'veth', peerName: 'eth0', peerNetns: 'sl-a' } };
    const base = { host: 'h', hostNetns: ns, external: [], transient: new Set<string>() };
    const ahead = recordAhead(undefined, base, createdObjects([{ op: 'create', object: veth }, { op: 'create', object: htb }]));
    expect(ahead.objects).toEqual({ [ns]: ['link/sl-a', 'sl-br0/qdisc/4294967295'], 'sl-a': ['link/eth0'] });
    expect(recordAhead(ahead, base, [htb])).toBe(ahead);
    const settled = recordSettled(ahead, base, keys(veth));
    expect(settled.objects).toEqual({ [ns]: ['link/sl-a'] });
  });
});

/** The real host as the kernel port reports it: a NIC and lo have no rtnetlink kind Sluice knows ("external"). */
class HostKernel implements KernelPort {
  readonly executed: Plan[] = [];
  constructor(private readonly links: readonly LinkObject[]) {}
  async observe(): Promise<ObservedState> {
    return observed({ links: [...this.links] });
  }
  async execute(plan: Plan): Promise<ExecutionReport> {
    this.executed.push(plan);
    return { applied: plan, skipped: [] };
  }
  release(): void {}
  async close(): Promise<void> {}
}

describe('a device of another kind named as the bridge (never planned for deletion)', () => {
  const eth0: LinkObject = { type: 'link', netns: HOST_NETNS, name: 'eth0', up: true, spec: { kind: 'external' } };
  const asBridge: LinkObject = { ...eth0, spec: { kind: 'bridge' } };

  it('ownership: an unrecorded device of another kind under the bridge\'s name is a conflict, lo and NICs included', () => {
    for (const device of [eth0, { ...eth0, name: 'lo' }, { ...eth0, name: 'vx0', spec: { kind: 'veth' as const, peerName: 'vx1', peerNetns: HOST_NETNS } }, { ...eth0, name: 'ifx0', spec: { kind: 'ifb' as const } }]) {
      const wanted: LinkObject = { ...device, spec: { kind: 'bridge' } };
      const view = new Ownership(undefined).view(observed({ links: [device] }), keys(wanted), new Map([[objectKey(wanted), 'bridge']]));
      expect(view.conflicts, device.name).toEqual([{ reason: 'other-kind', object: device, wanted: 'bridge' }]);
    }
    // Its own IFB, recorded, may become its bridge: Sluice made it, Sluice may replace it.
    const ownIfb: LinkObject = { ...eth0, netns: ns, name: 'sl-ifb0', spec: { kind: 'ifb' } };
    const wanted: LinkObject = { ...ownIfb, spec: { kind: 'bridge' } };
    expect(new Ownership(recordOf(ownIfb)).view(observed({ links: [ownIfb] }), keys(wanted), new Map([[objectKey(wanted), 'bridge']])).conflicts).toEqual([]);
  });

  it('the diff never emits a delete of an external link, even where the desired state wants a bridge of its name', () => {
    const plan = diff({ ...emptyKernelState(), links: [asBridge] }, observed({ links: [eth0] }));
    expect(plan.filter((op) => op.op === 'delete')).toEqual([]);
    expect(diff(emptyKernelState(), observed({ links: [eth0] }))).toEqual([]);
  });

  it('plan and apply with `netns: host, bridge: eth0` are refused before any change (EFOREIGN), naming eth0 and what to write instead', async () => {
    const policy = demoPolicy((t) => t.replace('netns: sl-host', 'netns: host').replace('bridge: sl-br0', 'bridge: eth0'));
    const kernel = new HostKernel([eth0, { ...eth0, name: 'lo' }]);
    const store = new MemoryOwnershipStore();
    const applier = new Applier(kernel, store, { exists: () => true, readSysctl: () => undefined }, BASELINE_FEATURES);
    for (const attempt of [() => applier.plan(policy), () => applier.apply(policy)]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ForeignObjectError);
      const refused = error as ForeignObjectError;
      expect(refused.code).toBe('EFOREIGN');
      expect(refused.message).toContain('refused before any change');
      expect(refused.message).toContain('link eth0 (external, up) in host netns already exists and is not a bridge');
      expect(refused.hint).toMatch(/another name in the Host's spec\.bridge.*never deletes eth0.*external: true/);
    }
    expect(kernel.executed).toEqual([]);
    expect(await store.read(policy.host.name)).toBeUndefined();
  });
});
