import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { emptyKernelState, type KernelState } from '../../src/tc/model';
import { demoWithTenantsPolicy } from '../support/policy';

const desired = compilePolicy(demoWithTenantsPolicy()).state;

/** The general path's plan: an observed state that is not empty but shares nothing with `s`. */
const general = (s: KernelState) => diff(s, { ...emptyKernelState(), sysctls: [{ type: 'sysctl', netns: 'nowhere', key: 'x', value: '1' }] });

// fresh.ts finds a veth's second end and a loopback's namespace by a cursor when they come
// in order, by a Map otherwise: both ways give the general path's plan.
describe('the plan from nothing, with its lists out of the usual order', () => {
  const firstVeth = desired.links.findIndex((l) => l.spec.kind === 'veth');
  const variants: Record<string, KernelState> = {
    'namespaces in reverse': { ...desired, namespaces: [...desired.namespaces].reverse() },
    'a namespace not created (its lo kept down)': { ...desired, namespaces: desired.namespaces.slice(1) },
    'every veth end after all the first ends': { ...desired, links: [...desired.links.filter((_, i) => i % 2 === 0), ...desired.links.filter((_, i) => i % 2 === 1)] },
    'the first pair apart, the rest next to each other': { ...desired, links: [...desired.links.filter((_, i) => i !== firstVeth + 1), desired.links[firstVeth + 1]!] },
  };

  it.each(Object.keys(variants))('%s', (name) => {
    const s = variants[name]!;
    expect(diff(s, emptyKernelState())).toEqual(general(s));
  });

  it('the usual order meets a veth pair next to each other (the cursor is what runs)', () => {
    expect(desired.links[firstVeth + 1]).toMatchObject({ spec: { kind: 'veth', peerName: desired.links[firstVeth]!.name } });
  });
});
