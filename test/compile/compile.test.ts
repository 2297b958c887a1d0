import { describe, expect, it } from 'vitest';
import { CompileMemo, compilePolicy } from '../../src/compile';
import { formatHandle } from '../../src/tc/handle';
import { emptyKernelState } from '../../src/tc/model';
import { demoPolicy } from '../support/policy';

describe('compile: shared mode (the demo host)', () => {
  const compiled = compilePolicy(demoPolicy());
  const { state } = compiled;

  it('creates the sandbox, the bridge, the IFB and a veth per container', () => {
    expect(state.namespaces.map((n) => n.name)).toEqual(['sl-host', 'sl-web', 'sl-api', 'sl-batch', 'sl-backup']);
    const hostLinks = state.links.filter((l) => l.netns === 'sl-host').map((l) => `${l.name}:${l.spec.kind}`);
    expect(hostLinks).toEqual(['lo:external', 'sl-br0:bridge', 'sl-ifb0:ifb', 'sl-web:veth', 'sl-api:veth', 'sl-batch:veth', 'sl-backup:veth']);
    expect(state.links.find((l) => l.name === 'sl-web')).toMatchObject({ master: 'sl-br0', spec: { peerName: 'eth0', peerNetns: 'sl-web' } });
    expect(state.routes).toContainEqual({ type: 'route', netns: 'sl-web', dst: 'default', via: '198.18.0.1', dev: 'eth0' });
  });

  it('builds one HTB tree per direction with class rate = guarantee, ceil = ceiling, prio = priority', () => {
    for (const dev of ['sl-br0', 'sl-ifb0']) {
      const classes = state.classes.filter((c) => c.dev === dev);
      expect(classes).toHaveLength(2 + 4);
      const batch = compiled.containers.find((c) => c.name === 'batch')!;
      const cls = classes.find((c) => c.classid === batch.classes.download!.classid)!;
      expect(cls.spec).toMatchObject({ rate: 20e6, ceil: 90e6, prio: 2 });
    }
  });

  it('gives each container the same class id in both trees, and quantum ∝ guarantee', () => {
    const web = compiled.containers.find((c) => c.name === 'web')!;
    expect(web.classes.download!.classid).toBe(web.classes.upload!.classid);
    const q = (name: string) => state.classes.find((c) => c.dev === 'sl-br0' && c.classid === compiled.containers.find((x) => x.name === name)!.classes.download!.classid)!.spec.quantum;
    expect(q('batch') / q('backup')).toBeCloseTo(2, 3);
    expect(q('web') / q('backup')).toBeCloseTo(3, 3);
  });

  it('classifies by a u32 hash on the last octet: destination on the bridge, source on the IFB', () => {
    const web = compiled.containers.find((c) => c.name === 'web')!;
    const entry = (dev: string) => state.filters.find((f) => f.dev === dev && f.spec.kind === 'u32' && f.spec.classid === web.classes.download!.classid)!;
    expect(entry('sl-br0').spec).toMatchObject({ keys: [{ value: 0xc612000a, mask: 0xffffffff, off: 16 }] });
    expect(entry('sl-ifb0').spec).toMatchObject({ keys: [{ value: 0xc612000a, mask: 0xffffffff, off: 12 }] });
    expect(entry('sl-br0').handle >>> 12 & 0xff).toBe(10);
    expect(state.filters.filter((f) => f.spec.kind === 'u32' && f.spec.divisor === 256)).toHaveLength(2);
  });

  it('redirects the bridge ingress into the IFB', () => {
    const redirect = state.filters.find((f) => f.spec.kind === 'u32' && f.spec.actions?.length);
    expect(redirect).toMatchObject({ dev: 'sl-br0', spec: { actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: 'sl-ifb0' }] } });
    expect(formatHandle(redirect!.parent)).toBe('ffff:');
  });

  it('is deterministic and keeps class ids found in the kernel', () => {
    expect(compilePolicy(demoPolicy())).toEqual(compiled);
    const moved = { ...state, classes: state.classes.map((c) => c) };
    const again = compilePolicy(demoPolicy(), { observed: moved });
    expect(again.containers.map((c) => c.classes.download!.classid)).toEqual(compiled.containers.map((c) => c.classes.download!.classid));
  });

  it('reuses the last compile while the policy and what it reads from the kernel are unchanged', () => {
    const memo = new CompileMemo();
    const compilePolicy = memo.compile.bind(memo);
    const policy = demoPolicy();
    const first = compilePolicy(policy, { observed: state });
    expect(compilePolicy({ ...policy }, { observed: { ...state } })).toBe(first);
    expect(first).toEqual(compiled);
    // A class id that moved in the kernel is kept: a new result.
    const web = compiled.containers.find((c) => c.name === 'web')!;
    const minor = 0x777;
    const moved = { ...state, filters: state.filters.map((f) => (f.spec.kind === 'u32' && f.spec.classid === web.classes.download!.classid ? { ...f, spec: { ...f.spec, classid: (0x10000 + minor) as never } } : f)) };
    const after = compilePolicy(policy, { observed: moved });
    expect(after).not.toBe(first);
    expect(after.containers.find((c) => c.name === 'web')!.classes.download!.classid).toBe(0x10000 + minor);
    expect(compilePolicy(policy, { observed: state })).toEqual(first);
  });

  it('trusts an observation with the last one\'s revision without comparing it, and compares one without', () => {
    const memo = new CompileMemo();
    const policy = demoPolicy();
    const first = memo.compile(policy, { observed: { ...state, revision: 'r1' } });
    // Same revision: the same objects by the observer's word, so not even looked at.
    expect(memo.compile(policy, { observed: { ...emptyKernelState(), revision: 'r1' } })).toBe(first);
    // Another revision, same objects: compared, and still the same result.
    expect(memo.compile(policy, { observed: { ...state, revision: 'r2' } })).toBe(first);
    expect(memo.compile(policy, { observed: { ...emptyKernelState(), revision: 'r3' } })).not.toBe(first);
  });

  it('uses the best leaf qdisc the kernel has', () => {
    const withFq = compilePolicy(demoPolicy(), { features: { leafQdiscs: ['fq_codel', 'pfifo'], clsBpf: true } });
    expect(new Set(withFq.state.qdiscs.filter((q) => q.parent !== 0xffffffff && q.spec.kind !== 'htb' && q.spec.kind !== 'ingress').map((q) => q.spec.kind))).toEqual(new Set(['fq_codel']));
  });
});

describe('compile: per-device mode', () => {
  const compiled = compilePolicy(demoPolicy((t) => t.replace('mode: shared', 'mode: per-device')));

  it('shapes each container on its own devices, no shared tree', () => {
    const web = compiled.containers.find((c) => c.name === 'web')!;
    expect(web.classes.download).toMatchObject({ netns: 'sl-host', dev: 'sl-web' });
    expect(web.classes.upload).toMatchObject({ netns: 'sl-web', dev: 'eth0' });
    expect(compiled.state.classes.filter((c) => c.dev === 'sl-br0')).toHaveLength(0);
    expect(compiled.state.filters).toHaveLength(0);
  });
});

describe('compile: overcommit scale-by-priority', () => {
  it('keeps high-priority guarantees and scales the priority where the link runs out', () => {
    const policy = demoPolicy((t) => t.replace('  capacity:', '  overcommit: scale-by-priority\n  capacity:').replace('guarantee: 20mbit, ceiling: 90mbit', 'guarantee: 60mbit, ceiling: 90mbit'));
    const compiled = compilePolicy(policy);
    const g = (name: string) => compiled.containers.find((c) => c.name === name)!.classes.download!.guarantee;
    expect(g('web')).toBe(30e6);
    expect(g('api')).toBe(20e6);
    expect(g('batch') + g('backup')).toBeLessThanOrEqual(50e6);
    expect(Math.round(g('batch') / g('backup'))).toBe(6);
    expect(compiled.notes.join()).toMatch(/scaled by priority/);
  });
});
