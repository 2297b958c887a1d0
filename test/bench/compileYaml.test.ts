import { describe, expect, it } from 'vitest';
import { syntheticPolicyFiles } from '../../bench/compileYaml';
import { syntheticPolicyDirect } from '../../bench/fixtures';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';

/** The policy without where each document came from (the direct one names no file). */
const withoutSources = (p: Policy): unknown => JSON.parse(JSON.stringify(p, (key: string, value: unknown) => (key === 'source' ? undefined : value)));

describe('bench/compileYaml: the YAML bench/compile loads as apply does', () => {
  it.each([
    { groups: 0, dualStack: false },
    { groups: 7, dualStack: false },
    { groups: 7, dualStack: true },
  ])('is the policy syntheticPolicyDirect builds (groups $groups, dual-stack $dualStack)', ({ groups, dualStack }) => {
    const files = syntheticPolicyFiles(1200, { groups, dualStack });
    const loaded = parsePolicyTexts([...files].map(([path, text]) => ({ path, text })));
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('; '));
    expect(withoutSources(loaded.policy)).toEqual(withoutSources(syntheticPolicyDirect(1200, { groups, dualStack })));
  });
});
