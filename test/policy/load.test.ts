import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicyTexts, type PolicyIssue } from '../../src/policy/load';
import { loadPolicyFromPaths } from '../../src/sources/files/read';

const HOST = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: h }
spec:
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
`;

const container = (name: string, body: string): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
${body}`;

const simple = (name: string, ns: string, g = '10mbit', extra = ''): string =>
  container(name, `  match: { managed: ${ns} }\n${extra}  download: { guarantee: ${g} }\n  upload: { guarantee: ${g} }\n`);

function issuesOf(...texts: string[]): PolicyIssue[] {
  const r = parsePolicyTexts(texts.map((text, i) => ({ path: `f${i}.yaml`, text })));
  if (r.ok) throw new Error('expected issues');
  return [...r.issues];
}

describe('policy loader: valid input', () => {
  it('loads the repository policies (merged across files)', async () => {
    const r = await loadPolicyFromPaths(['policies/']);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.containers.map((c) => c.name).sort()).toEqual(['agent', 'api', 'backup', 'batch', 'db-shop', 'notebook', 'web', 'web-shop']);
    expect(r.policy.groups.map((g) => g.name)).toEqual(['shop', 'lab']);
    expect(r.policy.schedules[0]?.name).toBe('nightly-backup');
    expect(r.policy.host.capacity.download).toBe(100e6);
  });

  it('fills defaults: ceiling = link, priority 4, gateway = first address, sandbox namespace', () => {
    const r = parsePolicyTexts([{ path: 'a.yaml', text: HOST + simple('web', 'sl-web') }]);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const web = r.policy.containers[0]!;
    expect(web.bandwidth.download).toMatchObject({ ceiling: 100e6, priority: 4 });
    expect(r.policy.host).toMatchObject({ gateway: '198.18.0.1', netns: 'sl-host', mode: 'shared', bridge: 'sl-br0' });
    expect(web.source).toEqual({ file: 'a.yaml', line: 10, column: 13 });
  });

  it('accepts JSON', () => {
    const json = JSON.stringify({ apiVersion: 'sluice.dev/v1', kind: 'Host', metadata: { name: 'h' }, spec: { subnet: '198.18.0.0/24', capacity: { download: '1gbit', upload: '1gbit' } } });
    expect(parsePolicyTexts([{ path: 'h.json', text: json }]).ok).toBe(true);
  });
});

describe('policy loader: every error, with file, line, column and field', () => {
  it('reports unknown fields and bad units at their position', () => {
    const issues = issuesOf(HOST.replace('upload: 100mbit', 'upload: 100mbps') + '  colour: blue\n');
    expect(issues).toEqual(expect.arrayContaining([
      expect.objectContaining({ file: 'f0.yaml', line: 6, path: 'spec.capacity.upload', message: expect.stringMatching(/ambiguous/) }),
      expect.objectContaining({ line: 7, column: 3, path: 'spec.colour', message: 'unknown field "colour"' }),
    ]));
  });

  it('reports problems in several files at once', () => {
    const issues = issuesOf(HOST + simple('web', 'sl-web', '200mbit'), simple('web', 'sl-web2') + simple('db', 'sl-db', '10mbit', '  address: 10.0.0.1\n'));
    const messages = issues.map((i) => `${i.file}:${i.line} ${i.message}`);
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/^f0.yaml:\d+ download guarantee 200mbit is above its ceiling 100mbit/),
      expect.stringMatching(/^f1.yaml:\d+ container "web" is defined twice; the other is at f0.yaml:\d+:\d+/),
      expect.stringMatching(/^f1.yaml:\d+ address 10.0.0.1 is outside the host subnet/),
    ]));
  });

  it('admission: Σ guarantees above the link lists the containers and the overshoot', () => {
    const issues = issuesOf(HOST + simple('a', 'sl-a', '60mbit') + simple('b', 'sl-b', '50mbit'));
    expect(issues.find((i) => i.path === 'spec.capacity.download')?.message).toBe(
      'admission: download guarantees add up to 110mbit, 10mbit more than the link\'s 100mbit (a 60mbit, b 50mbit)',
    );
  });

  it('rejects a non-zero guarantee more than 1024 times below the largest, and accepts zero', () => {
    const issues = issuesOf(HOST + simple('a', 'sl-a', '90mbit') + simple('b', 'sl-b', '80kbit') + simple('c', 'sl-c', '0mbit'));
    expect(issues.map((i) => `${i.file}:${i.path} ${i.message}`)).toEqual([
      'f0.yaml:spec.download.guarantee download guarantee 80kbit is more than 1024 times below the largest (90mbit): HTB could not share the excess in proportion',
      'f0.yaml:spec.upload.guarantee upload guarantee 80kbit is more than 1024 times below the largest (90mbit): HTB could not share the excess in proportion',
    ]);
    expect(parsePolicyTexts([{ path: 'a', text: HOST + simple('a', 'sl-a', '90mbit') + simple('b', 'sl-b', '88kbit') }]).ok).toBe(true);
  });

  it('admission is waived with overcommit: scale-by-priority', () => {
    const r = parsePolicyTexts([{ path: 'a', text: HOST.replace('spec:\n', 'spec:\n  overcommit: scale-by-priority\n') + simple('a', 'sl-a', '60mbit') + simple('b', 'sl-b', '50mbit') }]);
    expect(r.ok).toBe(true);
  });

  it('refuses lo as the bridge or the IFB: every namespace has it, and Sluice would have to delete it', () => {
    const issues = issuesOf(HOST.replace('spec:\n', 'spec:\n  bridge: lo\n  ifb: lo\n'));
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'spec.bridge: bridge: lo names the loopback device every namespace has, not a bridge Sluice can make or shape',
      'spec.ifb: ifb: lo names the loopback device every namespace has, not an IFB Sluice can make or shape',
    ]);
    expect(issues[0]!.line).toBe(5);
  });

  it('rejects duplicate namespaces, addresses and cgroups', () => {
    const issues = issuesOf(HOST + simple('a', 'sl-x') + simple('b', 'sl-x') + simple('c', 'sl-c', '1mbit', '  address: 198.18.0.9\n') + simple('d', 'sl-d', '1mbit', '  address: 198.18.0.9\n'));
    expect(issues.map((i) => i.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/namespace sl-x is also used by container "a"/),
      expect.stringMatching(/address 198.18.0.9 is also used by container "c"/),
    ]));
  });

  it('rejects ceilings above the link, priorities out of range, zero capacity', () => {
    const issues = issuesOf(
      HOST.replace('download: 100mbit', 'download: 0bit') +
        container('a', '  match: { managed: sl-a }\n  download: { guarantee: 1mbit, priority: 8 }\n  upload: { guarantee: 1mbit, ceiling: 1gbit }\n'),
    );
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.download.priority']));
    const semantic = issuesOf(HOST.replace('download: 100mbit', 'download: 0bit') + container('a', '  match: { managed: sl-a }\n  download: { guarantee: 0bit }\n  upload: { guarantee: 1mbit, ceiling: 1gbit }\n'));
    expect(semantic.map((i) => i.message)).toEqual(expect.arrayContaining([
      'download capacity must be above zero',
      "upload ceiling 1gbit is above the link's 100mbit",
    ]));
  });

  it('checks schedules: cron, unknown containers, admission during the window', () => {
    const schedule = `---
apiVersion: sluice.dev/v1
kind: Schedule
metadata: { name: s }
spec:
  cron: "61 * * * *"
  duration: 1h
  patches:
    - container: nope
      download: { guarantee: 1mbit }
    - container: web
      download: { guarantee: 95mbit }
`;
    const issues = issuesOf(HOST + simple('web', 'sl-web') + simple('api', 'sl-api'), schedule);
    const byPath = new Map(issues.map((i) => [i.path, i]));
    expect(byPath.get('spec.cron')?.message).toMatch(/not a valid cron/);
    expect(byPath.get('spec.patches.0.container')?.message).toMatch(/unknown container "nope"/);
    expect(byPath.get('spec.patches.0.container')?.line).toBe(9);
  });

  it('requires exactly one Host', () => {
    expect(issuesOf(simple('a', 'sl-a'))[0]?.message).toMatch(/no Host document/);
    expect(issuesOf(HOST, HOST).some((i) => /second Host/.test(i.message))).toBe(true);
  });

  it('YAML syntax errors carry their position', () => {
    const issues = issuesOf('kind: Host\n  bad: [\n');
    expect(issues[0]).toMatchObject({ file: 'f0.yaml', message: expect.stringMatching(/^YAML:/) });
  });
});

describe('policy loader: robustness', () => {
  it('never throws, whatever the input', () => {
    const yamlish = fc.oneof(
      fc.string(),
      fc.json(),
      fc.constantFrom(HOST, simple('a', 'sl-a'), 'kind: Container\nspec: 5\n', '- 1\n- 2\n', 'spec: { capacity: [1] }\n'),
      fc.tuple(fc.constantFrom(HOST, simple('a', 'sl-a')), fc.nat(), fc.string()).map(([t, at, s]) => t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1))),
    );
    fc.assert(
      fc.property(fc.array(yamlish, { minLength: 1, maxLength: 3 }), (texts) => {
        const r = parsePolicyTexts(texts.map((text, i) => ({ path: `f${i}`, text })));
        if (!r.ok) for (const issue of r.issues) expect(issue.message).not.toMatch(/internal error/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('policy loader: Docker hosts', () => {
  const dockerMatch = (name: string, match: string): string => container(name, `  match: { docker: ${match} }\n  download: { guarantee: 1mbit }\n  upload: { guarantee: 1mbit }\n`);

  it('loads policies/docker/ (a Host whose containers come from labels)', async () => {
    const r = await loadPolicyFromPaths(['policies/docker/']);
    expect(r.ok && { external: r.policy.host.external, sources: r.policy.host.sources }).toEqual({ external: true, sources: ['docker'] });
  });

  it('needs a docker section on the Host to match Docker containers, and a selector', () => {
    const messages = issuesOf(HOST + dockerMatch('a', '{ name: app }') + dockerMatch('b', '{}')).map((i) => i.message);
    expect(messages).toContain("a docker workload is shaped on its runtime's bridge, but the Host has no docker section");
    expect(messages).toContain('match.docker selects nothing');
  });

  it("refuses namespaces Sluice would wire to a Docker host's bridge, and per-device mode", () => {
    const dockerHost = HOST.replace('  subnet:', '  docker: {}\n  mode: per-device\n  subnet:');
    const messages = issuesOf(dockerHost + simple('web', 'sl-web')).map((i) => i.message);
    expect(messages).toContain('a managed match needs a veth on a bridge Sluice owns; this Host shapes an external bridge (docker)');
    expect(messages).toContain('per-device mode is not supported on an external bridge yet');
  });
});
