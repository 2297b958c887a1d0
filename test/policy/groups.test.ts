import { describe, expect, it } from 'vitest';
import { brief, issuesOf, load } from '../support/policyTexts';
import { MINIMAL_HOST } from '../support/policy';

const HOST = MINIMAL_HOST;

const group = (name: string, body = ''): string => `---
apiVersion: sluice.dev/v1
kind: Group
metadata: { name: ${name} }
spec:
${body || '  {}\n'}`;

const member = (name: string, groupName: string | undefined, g = '10mbit', extra = ''): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { managed: sl-${name} }
${groupName ? `  group: ${groupName}\n` : ''}  download: { guarantee: ${g}${extra} }
  upload: { guarantee: ${g}${extra} }
`;

describe('groups: what a policy says', () => {
  it('reads groups parents first, with ceilings defaulted down the tree, guarantees as written', () => {
    const p = load(
      HOST,
      group('sub', '  parent: top\n  download: { ceiling: 40mbit, priority: 1 }\n'),
      group('top', '  download: { guarantee: 50mbit, ceiling: 60mbit }\n  upload: { guarantee: 30mbit }\n'),
      member('a', 'sub'),
      member('b', 'top'),
      member('c', undefined),
    );
    expect(p.groups.map((g) => [g.name, g.parent])).toEqual([['top', undefined], ['sub', 'top']]);
    const [top, sub] = p.groups;
    expect(top!.bandwidth.download).toEqual({ guarantee: 50e6, ceiling: 60e6, priority: 4 });
    expect(top!.bandwidth.upload).toEqual({ guarantee: 30e6, ceiling: 100e6, priority: 4 });
    // No guarantee: its members' sum (the shaping tree works it out); the ceiling its parent's.
    expect(sub!.bandwidth.download).toEqual({ ceiling: 40e6, priority: 1 });
    expect(sub!.bandwidth.upload).toEqual({ ceiling: 100e6, priority: 4 });
    const byName = new Map(p.containers.map((c) => [c.name, c]));
    expect(byName.get('a')!.group).toBe('sub');
    expect(byName.get('a')!.bandwidth.download.ceiling).toBe(40e6);
    expect(byName.get('b')!.bandwidth.download.ceiling).toBe(60e6);
    expect(byName.get('c')!.group).toBeUndefined();
    expect(byName.get('c')!.bandwidth.download.ceiling).toBe(100e6);
  });

  it('allows three levels of groups (group → subgroup → subgroup → container)', () => {
    const p = load(HOST, group('l1'), group('l2', '  parent: l1\n'), group('l3', '  parent: l2\n'), member('x', 'l3'));
    expect(p.groups.map((g) => g.name)).toEqual(['l1', 'l2', 'l3']);
  });
});

describe('groups: every problem, with file:line', () => {
  it('an unknown group, for a container and for a parent', () => {
    expect(brief(issuesOf(HOST, group('g', '  parent: nope\n'), member('a', 'missing')))).toEqual([
      'f1:6 spec.parent: unknown group "nope"',
      'f2:7 spec.group: unknown group "missing"',
    ]);
  });

  it('a cycle, named at each group on it', () => {
    const issues = issuesOf(HOST, group('a', '  parent: b\n'), group('b', '  parent: a\n'), group('c', '  parent: a\n'));
    expect(brief(issues)).toEqual(['f1:6 spec.parent: group "a" is its own ancestor: a → b → a', 'f2:6 spec.parent: group "b" is its own ancestor: b → a → b']);
  });

  it('depth beyond three levels of groups', () => {
    const issues = issuesOf(HOST, group('l1'), group('l2', '  parent: l1\n'), group('l3', '  parent: l2\n'), group('l4', '  parent: l3\n'));
    expect(brief(issues)).toEqual(['f4:6 spec.parent: group "l4" is 4 levels of groups deep (l1 → l2 → l3 → l4); at most 3']);
  });

  it("children's guarantees above the group's (and the link's, at the top)", () => {
    const issues = issuesOf(HOST, group('g', '  download: { guarantee: 15mbit }\n'), member('a', 'g'), member('b', 'g'), member('c', undefined, '90mbit'));
    expect(brief(issues)).toEqual([
      'f0:6 spec.capacity.download: admission: download guarantees add up to 105mbit, 5mbit more than the link\'s 100mbit (g 15mbit, c 90mbit)',
      'f1:6 spec.download.guarantee: admission: the download guarantees of group "g"\'s members add up to 20mbit, 5mbit more than group "g"\'s download guarantee 15mbit (a 10mbit, b 10mbit)',
      // Upload: g states no guarantee, so it guarantees its members' 20mbit.
      'f0:6 spec.capacity.upload: admission: upload guarantees add up to 110mbit, 10mbit more than the link\'s 100mbit (g 20mbit, c 90mbit)',
    ]);
  });

  it("a child's ceiling above its group's, a group's above its parent's or the link's, a guarantee above the ceiling", () => {
    const issues = issuesOf(
      HOST,
      group('g', '  download: { ceiling: 50mbit }\n'),
      group('s', '  parent: g\n  download: { ceiling: 60mbit, guarantee: 30mbit }\n  upload: { ceiling: 200mbit }\n'),
      group('t', '  download: { ceiling: 20mbit, guarantee: 25mbit }\n'),
      member('a', 'g', '10mbit', ', ceiling: 70mbit'),
    );
    expect(brief(issues)).toEqual([
      'f3:6 spec.download.guarantee: download guarantee 25mbit is above its ceiling 20mbit',
      'f2:7 spec.download.ceiling: download ceiling 60mbit is above its parent group "g"\'s 50mbit',
      'f2:8 spec.upload.ceiling: upload ceiling 200mbit is above the link\'s 100mbit',
      'f4:8 spec.download.ceiling: download ceiling 70mbit is above its group "g"\'s 50mbit',
    ]);
  });

  it('a group named like a container; a cgroup-matched container in a group', () => {
    const cgroupMember = `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: agent }
spec:
  match: { cgroup: sl-agent }
  group: g
  download: { guarantee: 1mbit }
  upload: { guarantee: 1mbit }
`;
    const issues = issuesOf(HOST, group('g'), group('web'), member('web', undefined), cgroupMember);
    expect(brief(issues).map((l) => l.split(':').slice(0, 3).join(':'))).toEqual(['f2:4 metadata.name: group "web" has the name of the container at f3.yaml', 'f4:7 spec.group: a cgroup-matched container cannot be in a group']);
  });

  it("a schedule's window checks each group too: a patched guarantee above the group's, a ceiling above the group's", () => {
    const schedule = `---
apiVersion: sluice.dev/v1
kind: Schedule
metadata: { name: nightly }
spec:
  cron: "0 1 * * *"
  duration: 1h
  patches:
    - container: a
      download: { guarantee: 12mbit, ceiling: 60mbit }
`;
    const issues = issuesOf(HOST, group('g', '  download: { guarantee: 20mbit, ceiling: 50mbit }\n'), member('a', 'g'), member('b', 'g'), schedule);
    expect(brief(issues).map((l) => l.replace(/^f\d:\d+ /, ''))).toEqual([
      'spec.patches.0.download.ceiling: during the window a\'s download ceiling 60mbit is above its group "g"\'s 50mbit',
    ]);
    const fits = schedule.replace(', ceiling: 60mbit', '');
    expect(brief(issuesOf(HOST, group('g', '  download: { guarantee: 20mbit, ceiling: 50mbit }\n'), member('a', 'g'), member('b', 'g'), fits)).map((l) => l.replace(/^f\d:\d+ /, ''))).toEqual([
      'spec.patches: admission: the download guarantees of group "g"\'s members add up to 22mbit while window "nightly" is open, 2mbit more than group "g"\'s download guarantee 20mbit (a 12mbit, b 10mbit)',
    ]);
  });

  it('overcommit: scale-by-priority accepts what does not fit inside a group', () => {
    const host = HOST.replace('capacity:', 'overcommit: scale-by-priority\n  capacity:');
    expect(load(host, group('g', '  download: { guarantee: 15mbit }\n'), member('a', 'g'), member('b', 'g')).groups).toHaveLength(1);
  });

  it('guarantees more than 1024 times apart among the siblings of one group', () => {
    const issues = issuesOf(HOST, group('g'), member('a', 'g', '50mbit'), member('b', 'g', '40kbit'), member('c', undefined, '40kbit'));
    // c is beside g, which guarantees its members' 50.04mbit.
    expect(brief(issues)).toEqual([
      'f4:7 spec.download.guarantee: download guarantee 40kbit is more than 1024 times below the largest (50.04mbit): HTB could not share the excess in proportion',
      'f3:8 spec.download.guarantee: download guarantee 40kbit is more than 1024 times below the largest in group "g" (50mbit): HTB could not share the excess in proportion',
      'f4:8 spec.upload.guarantee: upload guarantee 40kbit is more than 1024 times below the largest (50.04mbit): HTB could not share the excess in proportion',
      'f3:9 spec.upload.guarantee: upload guarantee 40kbit is more than 1024 times below the largest in group "g" (50mbit): HTB could not share the excess in proportion',
    ]);
  });
});
