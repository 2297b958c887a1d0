import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asHandle } from '../../src/tc/handle';
import { deviceId, IDENTITY, objectKey, sameFilterRest, type PartIdentity } from '../../src/tc/identity';
import type { KernelObject } from '../../src/tc/model';

// Few values per field, so that pairs often share some parts of their identity.
const name = fc.constantFrom('sl-a', 'sl-b', 'lo', 'eth0');
const small = fc.constantFrom(0, 1, 0x10001, 0xffffffff);

const object: fc.Arbitrary<KernelObject> = fc.oneof(
  name.map((n): KernelObject => ({ type: 'namespace', name: n })),
  fc.tuple(name, name, fc.boolean()).map(([netns, n, up]): KernelObject => ({ type: 'link', netns, name: n, up, spec: { kind: 'bridge' } })),
  fc.tuple(name, name, fc.constantFrom('198.18.0.1/24', '198.18.0.2/24')).map(([netns, dev, cidr]): KernelObject => ({ type: 'address', netns, dev, cidr })),
  fc.tuple(name, fc.constantFrom('default', '198.18.1.0/24')).map(([netns, dst]): KernelObject => ({ type: 'route', netns, dst })),
  fc.tuple(name, fc.constantFrom('net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter')).map(([netns, key]): KernelObject => ({ type: 'sysctl', netns, key, value: '1' })),
  fc.tuple(name, name, small, small).map(([netns, dev, parent, handle]): KernelObject => ({ type: 'qdisc', netns, dev, parent: asHandle(parent), handle: asHandle(handle), spec: { kind: 'ingress' } })),
  fc.tuple(name, name, small, small).map(([netns, dev, classid, parent]): KernelObject => ({
    type: 'class', netns, dev, classid: asHandle(classid), parent: asHandle(parent),
    spec: { kind: 'htb', rate: 1 as never, ceil: 1 as never, burst: 1 as never, cburst: 1 as never, prio: 0, quantum: 1 as never },
  })),
  fc.tuple(name, name, small, fc.constantFrom(1, 2), fc.constantFrom(3, 0x800), small).map(([netns, dev, parent, prio, protocol, handle]): KernelObject => ({
    type: 'filter', netns, dev, parent: asHandle(parent), prio, protocol, handle, spec: { kind: 'u32', keys: [] },
  })),
  name.map((cgroup): KernelObject => ({ type: 'cgroup-classid', cgroup, classid: asHandle(1) })),
);

function byParts<O extends KernelObject>(identity: PartIdentity<O>, a: O, b: O): boolean {
  return identity.first(a) === identity.first(b) && identity.sameRest(a, b) && identity.rest(a) === identity.rest(b);
}

/** The two-part identities, by type (the others are kept per device). */
const PARTS: Partial<Record<KernelObject['type'], PartIdentity<KernelObject>>> = {
  namespace: IDENTITY.namespace as PartIdentity<KernelObject>,
  'cgroup-classid': IDENTITY.cgroup as PartIdentity<KernelObject>,
  link: IDENTITY.link as PartIdentity<KernelObject>,
  address: IDENTITY.address as PartIdentity<KernelObject>,
  route: IDENTITY.route as PartIdentity<KernelObject>,
  sysctl: IDENTITY.sysctl as PartIdentity<KernelObject>,
};

/** The identity as the converged fast path reads it, in parts. */
function sameByParts(a: KernelObject, b: KernelObject): boolean {
  if (a.type !== b.type) return false;
  const parts = PARTS[a.type];
  if (parts) return byParts(parts, a, b);
  if (a.type === 'qdisc' || a.type === 'class' || a.type === 'filter') {
    const o = b as typeof a;
    if (a.netns !== o.netns || a.dev !== o.dev) return false;
    if (a.type === 'qdisc') return deviceId.qdisc(a) === deviceId.qdisc(o as typeof a);
    if (a.type === 'class') return deviceId.class(a) === deviceId.class(o as typeof a);
    return deviceId.filter(a) === deviceId.filter(o as typeof a) && sameFilterRest(a, o as typeof a);
  }
  throw new Error(`no identity for ${a.type}`);
}

describe('object identity', () => {
  it('the parts the converged fast path compares agree with objectKey, for every type', () => {
    fc.assert(
      fc.property(object, object, (a, b) => {
        expect(sameByParts(a, b)).toBe(objectKey(a) === objectKey(b));
        expect(sameByParts(a, a)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
