import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { formatPlan } from '../../src/plan/format';
import type { Operation } from '../../src/tc/operation';
import { emptyKernelState, type KernelState, type LinkObject } from '../../src/tc/model';
import { demoPolicy, demoWithTenantsPolicy } from '../support/policy';
import { bitsPerSec, bytes } from '../../src/units/units';

const desired = compilePolicy(demoPolicy()).state;

/** What the kernel holds after applying `s`: the same objects (lo exists in every namespace). */
const converged = (s: KernelState): KernelState => s;

describe('diff', () => {
  it('a converged state gives an empty plan', () => {
    expect(diff(desired, converged(desired))).toEqual([]);
    expect(formatPlan([])).toMatch(/No changes/);
  });

  it("an inner class's quantum (the kernel keeps the one it was created with) is not a change", () => {
    const observed: KernelState = { ...desired, classes: desired.classes.map((c) => (c.classid === 0x10001 ? { ...c, spec: { ...c.spec, quantum: bytes(c.spec.quantum * 2), inner: true as const } } : c)) };
    expect(diff(desired, observed)).toEqual([]);
    const leaf = { ...desired, classes: desired.classes.map((c) => (c.classid === 0x10001 ? { ...c, spec: { ...c.spec, quantum: bytes(c.spec.quantum * 2) } } : c)) };
    expect(diff(desired, leaf)).toHaveLength(2);
  });

  it('from nothing: parents before children, each veth pair created once and its peer brought up', () => {
    const plan = diff(desired, emptyKernelState());
    const kinds = plan.map((o) => o.object.type);
    expect(kinds.indexOf('namespace')).toBe(0);
    expect(kinds.lastIndexOf('namespace')).toBeLessThan(kinds.indexOf('link'));
    expect(kinds.lastIndexOf('qdisc')).toBeLessThan(kinds.indexOf('filter'));
    const vethCreates = plan.filter((o) => o.op === 'create' && o.object.type === 'link' && o.object.spec.kind === 'veth');
    expect(vethCreates).toHaveLength(4);
    const ups = plan.filter((o) => o.op === 'change' && o.object.type === 'link');
    // The namespaces the plan creates come with lo up: only the veths' peers need a change,
    // and each container's bridge port its isolation (a request after the port has its master).
    expect(ups.map((o) => (o.object.type === 'link' ? o.object.name : '')).sort()).toEqual(['eth0', 'eth0', 'eth0', 'eth0', 'sl-api', 'sl-backup', 'sl-batch', 'sl-web']);
    for (const port of ups.filter((o) => o.object.type === 'link' && o.object.name !== 'eth0')) {
      expect(port).toMatchObject({ before: { isolated: false }, fields: ['isolated'] });
      expect(plan.indexOf(port)).toBeGreaterThan(plan.findIndex((o) => o.op === 'create' && o.object === port.object));
    }
    expect(ups.find((o) => o.object.type === 'link' && o.object.name === 'eth0')).toMatchObject({ before: { up: false }, fields: ['up'] });
    const table = plan.findIndex((o) => o.object.type === 'filter' && o.object.spec.kind === 'u32' && o.object.spec.divisor === 256);
    const link = plan.findIndex((o) => o.object.type === 'filter' && o.object.spec.kind === 'u32' && o.object.spec.link !== undefined);
    const entry = plan.findIndex((o) => o.object.type === 'filter' && o.object.spec.kind === 'u32' && o.object.spec.classid !== undefined);
    expect(table).toBeLessThan(entry);
    expect(entry).toBeLessThan(link);
  });

  it("a veth's other end is made down with the created end's MTU and GSO size; the change after it sets what differs", () => {
    const withPeer = (f: (l: LinkObject) => LinkObject): KernelState => ({ ...desired, links: desired.links.map((l) => (l.netns === 'sl-web' && l.name === 'eth0' ? f(l) : l)) });
    const peerChange = (s: KernelState): Operation | undefined => diff(s, emptyKernelState()).find((o) => o.op === 'change' && o.object.type === 'link' && o.object.netns === 'sl-web' && o.object.name === 'eth0');
    expect(peerChange(withPeer((l) => ({ ...l, mtu: 1400 })))).toMatchObject({ object: { up: true, mtu: 1400 }, before: { up: false }, fields: ['up', 'mtu'] });
    expect(peerChange(withPeer((l) => ({ ...l, up: false })))).toBeUndefined();
    expect(peerChange(withPeer((l) => ({ ...l, gsoMaxSize: 16384 })))).toMatchObject({ object: { up: true, gsoMaxSize: 16384 }, before: { up: false }, fields: ['up', 'gsoMaxSize'] });
  });

  it('a loopback gets a change only where its namespace is not created by the plan, or is desired down', () => {
    const loChanges = (s: KernelState, observed: KernelState = emptyKernelState()): string[] =>
      diff(s, observed)
        .filter((o) => o.op === 'change' && o.object.type === 'link' && o.object.name === 'lo')
        .map((o) => (o.op === 'change' && o.object.type === 'link' ? `${o.object.netns} ${String(o.before.type === 'link' && o.before.up)}→${String(o.object.up)}` : ''));
    const loDown = { ...desired, links: desired.links.map((l) => (l.netns === 'sl-web' && l.name === 'lo' ? { ...l, up: false } : l)) };
    expect(loChanges(loDown)).toEqual(['sl-web true→false']);
    const notCreated = { ...desired, namespaces: desired.namespaces.filter((n) => n.name !== 'sl-web') };
    expect(loChanges(notCreated)).toEqual(['sl-web false→true']);
    // The general path (something observed): web's namespace made again, its lo with it.
    const withoutWeb = { ...desired, namespaces: desired.namespaces.filter((n) => n.name !== 'sl-web'), links: desired.links.filter((l) => l.netns !== 'sl-web') };
    expect(loChanges(desired, withoutWeb)).toEqual([]);
    expect(loChanges(loDown, withoutWeb)).toEqual(['sl-web true→false']);
  });

  it("a leaf raised from a rate that can owe a second of tokens is made again, with its leaf and the filters pointing to it (HTB keeps a changed class's debt)", () => {
    // The observed kernel: the web container's download class at 8 kbit/s (a zero guarantee), the policy raising it.
    const web = desired.classes.find((c) => c.dev === 'sl-br0' && desired.filters.some((f) => f.dev === 'sl-br0' && f.spec.kind === 'u32' && f.spec.classid === c.classid) && c.spec.rate > 8_000_000)!;
    const observed: KernelState = { ...desired, classes: desired.classes.map((c) => (c === web ? { ...c, spec: { ...c.spec, rate: bitsPerSec(8_000) } } : c)) };
    const plan = diff(desired, observed);
    const filters = desired.filters.filter((f) => f.dev === 'sl-br0' && f.spec.kind === 'u32' && f.spec.classid === web.classid);
    expect(filters.length).toBeGreaterThan(0);
    const ops = plan.map((o) => `${o.op} ${o.object.type}`);
    expect(ops.filter((o) => o === 'delete filter')).toHaveLength(filters.length);
    expect(ops.filter((o) => o === 'create filter')).toHaveLength(filters.length);
    expect(ops).toContain('delete class');
    expect(ops).toContain('create class');
    // The filters go before the class (the kernel refuses to delete a class in use) and come back after it and its leaf.
    expect(ops.lastIndexOf('delete filter')).toBeLessThan(ops.indexOf('delete class'));
    expect(ops.indexOf('create class')).toBeLessThan(ops.indexOf('create qdisc'));
    expect(ops.indexOf('create qdisc')).toBeLessThan(ops.indexOf('create filter'));
    expect(plan.some((o) => o.op === 'change')).toBe(false);
    // Raised from a rate at which a largest packet takes under a second (and lowered from any), it is changed in place.
    const above = { ...observed, classes: observed.classes.map((c) => (c.classid === web.classid && c.dev === web.dev ? { ...c, spec: { ...c.spec, rate: bitsPerSec(1_000_000) } } : c)) };
    expect(diff(desired, above).map((o) => `${o.op} ${o.object.type}`)).toEqual(['change class']);
    const lowered = compilePolicy(demoPolicy((t) => t.replace('download: { guarantee: 10mbit, priority: 2 }', 'download: { guarantee: 0mbit, priority: 2 }'))).state;
    expect(diff(lowered, desired).every((o) => o.op === 'change')).toBe(true);
  });

  it("a group's class raised out of debt is changed, not replaced: replacing it would rebuild the group's whole HTB", () => {
    const grouped = compilePolicy(demoWithTenantsPolicy()).state;
    const group = grouped.classes.find((c) => grouped.qdiscs.some((q) => q.parent === c.classid && q.dev === c.dev && q.spec.kind === 'htb'))!;
    const observed: KernelState = { ...grouped, classes: grouped.classes.map((c) => (c === group ? { ...c, spec: { ...c.spec, rate: bitsPerSec(8_000) } } : c)) };
    expect(diff(grouped, observed).map((o) => `${o.op} ${o.object.type}`)).toEqual(['change class']);
  });

  it('changing one container rate changes exactly its class in that direction', () => {
    const changed = compilePolicy(demoPolicy((t) => t.replace('download: { guarantee: 10mbit, priority: 2 }', 'download: { guarantee: 15mbit, priority: 2 }'))).state;
    const plan = diff(changed, desired);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ op: 'change', object: { type: 'class', dev: 'sl-br0' }, fields: ['rate', 'quantum'] });
  });

  it('removing a container deletes its namespace, its veth from the host end (not left to the kernel\'s lagging namespace cleanup) and its tc objects', () => {
    const without = compilePolicy(demoPolicy((t) => t.split('---').filter((d) => !d.includes('name: backup')).join('---'))).state;
    const plan = diff(without, desired);
    const deletes = plan.filter((o) => o.op === 'delete').map((o) => o.object.type);
    expect(deletes).toContain('namespace');
    const links = plan.filter((o) => o.op === 'delete' && o.object.type === 'link').map((o) => o.object);
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ type: 'link', name: 'sl-backup' });
    expect(plan.findIndex((o) => o.op === 'delete' && o.object.type === 'link')).toBeLessThan(plan.findIndex((o) => o.op === 'delete' && o.object.type === 'namespace'));
    expect(deletes).not.toContain('address');
    expect(plan.filter((o) => o.op === 'delete' && o.object.type === 'class')).toHaveLength(2);
    // A class delete takes its leaf qdisc with it.
    expect(plan.filter((o) => o.op === 'delete' && o.object.type === 'qdisc')).toHaveLength(0);
    // Deletes of children come before their parents.
    const filterDelete = plan.findIndex((o) => o.op === 'delete' && o.object.type === 'filter');
    const classDelete = plan.findIndex((o) => o.op === 'delete' && o.object.type === 'class');
    expect(filterDelete).toBeLessThan(classDelete);
  });

  it('destroy: deleting everything deletes namespaces and leaves the rest to the kernel', () => {
    const plan = diff(emptyKernelState(), desired);
    expect(new Set(plan.map((o) => o.object.type))).toEqual(new Set(['namespace']));
    expect(plan.every((o) => o.op === 'delete')).toBe(true);
  });

  it('a replaced root qdisc recreates what hung under it', () => {
    const observed: KernelState = {
      ...desired,
      qdiscs: desired.qdiscs.map((q) => (q.dev === 'sl-br0' && q.spec.kind === 'htb' ? { ...q, spec: { ...q.spec, kind: 'htb' as const, defaultMinor: 2, r2q: 10 } } : q)),
    };
    expect(diff(desired, observed)).toEqual([]);
    const wrongKind: KernelState = { ...desired, qdiscs: desired.qdiscs.map((q) => (q.dev === 'sl-br0' && q.spec.kind === 'htb' ? { ...q, spec: { kind: 'pfifo' as const, limitPackets: 10 } } : q)) };
    const plan = diff(desired, wrongKind);
    expect(plan[0]).toMatchObject({ op: 'delete', object: { type: 'qdisc', dev: 'sl-br0' } });
    expect(plan.filter((o) => o.op === 'create' && o.object.type === 'class' && o.object.dev === 'sl-br0')).toHaveLength(6);
  });

  it('a foreign object on a shaped device is replaced where Sluice wants one, deleted elsewhere, and named in the plan', () => {
    const foreign = { kind: 'foreign' as const, tcKind: 'netem', problem: 'qdisc of kind "netem": no codec' };
    const root = desired.qdiscs.find((q) => q.dev === 'sl-br0' && q.spec.kind === 'htb')!;
    const replaced = diff(desired, { ...desired, qdiscs: desired.qdiscs.map((q) => (q === root ? { ...q, spec: foreign } : q)) });
    expect(replaced[0]).toMatchObject({ op: 'delete', object: { type: 'qdisc', dev: 'sl-br0', spec: foreign } });
    expect(replaced).toContainEqual({ op: 'create', object: root });
    expect(formatPlan(replaced)).toMatch(/delete qdisc netem 1: parent root \(foreign: qdisc of kind "netem": no codec\)/);
    const extra = { ...desired.filters[0]!, prio: 99, spec: { kind: 'foreign' as const, tcKind: 'flower', problem: 'no codec' } };
    expect(diff(desired, { ...desired, filters: [...desired.filters, extra] })).toEqual([{ op: 'delete', object: extra }]);
  });
});

describe('diff from an empty state', () => {
  /** The general path's plan: an observed state that is not empty but shares nothing with `s`. */
  const general = (s: KernelState) => diff(s, { ...emptyKernelState(), sysctls: [{ type: 'sysctl', netns: 'nowhere', key: 'x', value: '1' }] });

  it('takes the fast path and gives the same plan as the general one', () => {
    const plan = diff(desired, emptyKernelState());
    expect(plan).toEqual(general(desired));
    // The plan is allocated at its final length and filled by index: no slot left empty.
    expect([...plan].includes(undefined as never)).toBe(false);
  });

  it('gives the same plan as the general one with links in another order or a veth end alone', () => {
    const links = desired.links;
    const veth = links.find((l) => l.spec.kind === 'veth')!;
    const variants: KernelState[] = [
      { ...desired, links: [...links].reverse() },
      { ...desired, links: links.filter((l) => l !== veth) },
      { ...desired, links: links.filter((l) => l.spec.kind !== 'veth' || l === veth) },
    ];
    for (const s of variants) expect(diff(s, emptyKernelState())).toEqual(general(s));
  });
});

describe('diff of a converged kernel (the fast check before the general path)', () => {
  it('answers with the general path whenever anything differs', () => {
    const byDev = (dev: string) => desired.classes.filter((c) => c.dev === dev);
    const extraClass = { ...byDev('sl-br0')[2]!, classid: 0x1fff0 as never };
    const cases: KernelState[] = [
      { ...desired, classes: [...desired.classes, extraClass] },
      { ...desired, classes: desired.classes.slice(1) },
      { ...desired, filters: desired.filters.map((f, i) => (i === 3 ? { ...f, prio: f.prio + 1 } : f)) },
      { ...desired, links: desired.links.map((l) => (l.name === 'lo' && l.netns === 'sl-web' ? { ...l, up: false } : l)) },
      { ...desired, namespaces: desired.namespaces.filter((n) => n.name !== 'sl-api') },
    ];
    for (const observed of cases) {
      const plan = diff(desired, observed);
      expect(plan.length).toBeGreaterThan(0);
      // The same plan as when the check is bypassed (an observed state the check cannot match).
      const noise = { type: 'sysctl' as const, netns: 'nowhere', key: 'x', value: '1' };
      expect(diff({ ...desired, sysctls: [...desired.sysctls, noise] }, { ...observed, sysctls: [...observed.sysctls, { ...noise, value: '2' }] }).filter((op) => op.object.type !== 'sysctl')).toEqual(plan);
    }
  });

  it('tells objects apart by their whole identity when a first part is shared', () => {
    // Two addresses with one cidr in two namespaces, two routes in one namespace.
    const address = desired.addresses.find((a) => a.netns === 'sl-web')!;
    const route = desired.routes.find((r) => r.netns === 'sl-web')!;
    const twins: KernelState = {
      ...desired,
      addresses: [...desired.addresses, { ...address, netns: 'sl-api' }],
      routes: [...desired.routes, { ...route, dst: '10.0.0.0/8' }],
    };
    expect(diff(twins, twins)).toEqual([]);
    expect(diff(twins, { ...twins, addresses: desired.addresses })).toEqual([{ op: 'create', object: { ...address, netns: 'sl-api' } }]);
    expect(diff(desired, twins).map((op) => op.op)).toEqual(['delete', 'delete']);
  });

  it('counts an observed duplicate once, as the general path does', () => {
    const doubled = { ...desired, classes: [...desired.classes, desired.classes[4]!] };
    expect(diff(desired, doubled)).toEqual([]);
  });

  it('keeps filters that share a handle apart by parent, prio and protocol', () => {
    const f = desired.filters.find((x) => x.spec.kind === 'u32' && x.spec.classid !== undefined)!;
    const twin = { ...f, prio: f.prio + 5 };
    const plan = diff(desired, { ...desired, filters: [...desired.filters, twin] });
    expect(plan).toEqual([{ op: 'delete', object: twin }]);
  });
});
