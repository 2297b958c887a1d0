import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RankedOperations } from '../../src/plan/ranked';
import { ADDRESS_RANK, ROUTE_RANK } from '../../src/plan/order';
import { changedLinkFields } from '../../src/plan/compare';
import type { AddressObject, LinkObject, RouteObject } from '../../src/tc/model';
import type { Operation } from '../../src/tc/operation';

describe('RankedOperations.ordered', () => {
  // Addresses and routes in a few namespaces, added in any order: the result groups each
  // namespace's operations (namespaces in order of first appearance in rank order), each
  // group in rank order, then in the order added. Checked against a stable sort, since
  // ordered() puts the groups in place within the plan by following a permutation's cycles.
  it('groups each namespace’s operations in order of first appearance, stably', () => {
    const netns = fc.constantFrom('sl-a', 'sl-b', 'sl-c', 'sl-d', 'sl-e');
    const entry = fc.record({ netns, route: fc.boolean() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 60 }), (entries) => {
        const ops: Operation[] = entries.map(({ netns: ns, route }, i): Operation => {
          const object: AddressObject | RouteObject = route ? { type: 'route', netns: ns, dst: `198.18.${i}.0/24` } : { type: 'address', netns: ns, dev: 'eth0', cidr: `198.18.0.${i}/16` };
          return { op: 'create', object };
        });
        const ranked = new RankedOperations();
        ops.forEach((op) => ranked.addAt(op.object.type === 'route' ? ROUTE_RANK : ADDRESS_RANK, op));
        const inRankOrder = [...ops.filter((op) => op.object.type === 'address'), ...ops.filter((op) => op.object.type === 'route')];
        const nsOf = (op: Operation): string => (op.object as { netns: string }).netns;
        const firstSeen = [...new Set(inRankOrder.map(nsOf))];
        const expected = [...inRankOrder].sort((a, b) => firstSeen.indexOf(nsOf(a)) - firstSeen.indexOf(nsOf(b)));
        const plan = ranked.ordered(() => undefined);
        expect(plan).toHaveLength(expected.length);
        plan.forEach((op, i) => expect(op).toBe(expected[i]));
      }),
    );
  });
});

describe('changedLinkFields', () => {
  const link: LinkObject = { type: 'link', netns: 'sl-a', name: 'eth0', up: true, spec: { kind: 'veth', peerName: 'sl-a', peerNetns: 'sl-host' } };

  it('hands every change with the same fields one shared, frozen list (a fresh plan has one per container)', () => {
    const down = { ...link, up: false };
    const first = changedLinkFields(link, down);
    expect(first).toEqual(['up']);
    expect(changedLinkFields({ ...link, netns: 'sl-b' }, { ...down, netns: 'sl-b' })).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(changedLinkFields({ ...link, mtu: 1400 }, { ...down, mtu: 1500 })).toEqual(['up', 'mtu']);
    expect(changedLinkFields(link, link)).toEqual([]);
  });
});
