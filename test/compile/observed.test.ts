import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { keepObservedLookups, observedInputs } from '../../src/compile/observed';
import type { Policy } from '../../src/policy/model';
import { demoWithTenantsPolicy } from '../support/policy';

/** The policy with only its first `n` containers (the node before the rest's ADDs). */
const firstOf = (policy: Policy, n: number): Policy => ({ ...policy, containers: policy.containers.slice(0, n) });

describe('keepObservedLookups (what compiles against an applied state read of it, kept)', () => {
  it('compiles change after change as the lookups read afresh would', () => {
    const policy = demoWithTenantsPolicy();
    const n = policy.containers.length;
    let base = compilePolicy(firstOf(policy, n - 3)).state;
    for (let k = n - 2; k <= n; k++) {
      keepObservedLookups(base, policy.host.bridge);
      const next = firstOf(policy, k);
      const kept = compilePolicy(next, { observed: base });
      // A copy of the state is another key: nothing kept for it.
      expect(kept).toEqual(compilePolicy(next, { observed: { ...base } }));
      expect(observedInputs(next, base)).toEqual(observedInputs(next, { ...base }));
      base = kept.state;
    }
  });

  it('reads the paths again for another bridge', () => {
    const policy = demoWithTenantsPolicy();
    const state = compilePolicy(policy).state;
    keepObservedLookups(state, 'sl-elsewhere');
    expect(observedInputs(policy, state)).toEqual(observedInputs(policy, { ...state }));
    keepObservedLookups(state, policy.host.bridge);
    const inputs = observedInputs(policy, state);
    expect(inputs).toEqual(observedInputs(policy, { ...state }));
    expect(inputs.addressPaths.size + inputs.addressSlots.size).toBeGreaterThan(0);
  });
});
