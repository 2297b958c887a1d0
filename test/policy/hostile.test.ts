// Hostile or careless input: each refused with a located message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { excessiveNesting, MAX_POLICY_DEPTH } from '../../src/policy/depth';
import { parsePolicyTexts, type PolicyIssue } from '../../src/policy/load';

const HOST = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: h }
spec:
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
`;

const withMatch = (match: string): string => `${HOST}---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: web }
spec:
  match: ${match}
  download: { guarantee: 10mbit }
  upload: { guarantee: 10mbit }
`;

function issuesOf(text: string): PolicyIssue[] {
  const r = parsePolicyTexts([{ path: 'p.yaml', text }]);
  if (r.ok) throw new Error('expected issues');
  return [...r.issues];
}

const DEPTH = 20_000;

describe('hostile YAML', () => {
  const cases: Record<string, string> = {
    'flow sequences': `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`,
    'flow maps': `${'{a: '.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`,
    'block maps': Array.from({ length: DEPTH }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
    'block sequences': `${'- '.repeat(DEPTH)}x`,
    'a deep value inside a Container': withMatch(`${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`),
  };
  for (const [name, text] of Object.entries(cases)) {
    it(`${name} nested ${DEPTH} deep: says how deep and where, not a stack overflow`, () => {
      const issues = issuesOf(text);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.message).toContain(`nested more than ${MAX_POLICY_DEPTH} levels deep`);
      expect(issues[0]!.message).not.toMatch(/call stack/i);
      expect(issues[0]!.line).toBeGreaterThan(0);
      expect(issues[0]!.column).toBeGreaterThan(0);
    });
  }

  it('leaves ordinary nesting, quotes and comments alone', () => {
    expect(excessiveNesting(`a: "[[[[ {{{{"\nb: '[[[['\nc: [1, [2, {d: 3}]] # [[[[\ne: don't [x]\n`, 4)).toBeUndefined();
    expect(excessiveNesting(withMatch('{ managed: sl-web }'))).toBeUndefined();
  });
});

describe('paths that escape', () => {
  it('match.netns with ".." segments is refused at its line', () => {
    const issues = issuesOf(withMatch('{ netns: ../../proc/1/ns/net }'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'p.yaml', line: 12, path: 'spec.match.netns' });
    expect(issues[0]!.message).toContain('".." segment');
  });

  it('match.cgroup with ".." segments is refused at its line', () => {
    const issues = issuesOf(withMatch('{ cgroup: ../../../etc }'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'p.yaml', line: 12, path: 'spec.match.cgroup' });
    expect(issues[0]!.message).toContain('".." segment');
  });

  it('an absolute path with ".." is refused too; names and plain absolute paths pass', () => {
    expect(issuesOf(withMatch('{ netns: /run/netns/../../proc/1/ns/net }'))[0]!.path).toBe('spec.match.netns');
    expect(parsePolicyTexts([{ path: 'p.yaml', text: withMatch('{ netns: /proc/1/ns/net }') }]).ok).toBe(true);
    expect(parsePolicyTexts([{ path: 'p.yaml', text: withMatch('{ cgroup: sl-agent/inner..dots }') }]).ok).toBe(true);
  });
});
