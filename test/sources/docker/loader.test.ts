import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyLoader } from '../../../src/sources/loader';
import { policyLoader } from '../../support/sources';
import { DockerUnreachableError } from '../../../src/errors';
import { formatPolicyIssue } from '../../../src/policy/load';
import { DOCKER_HOST_YAML, dockerContainer, FakeEngine, sluiceLabels } from './fakeEngine';

describe('the policy loader of a Docker host', () => {
  let dir: string;
  let engine: FakeEngine;
  const source = (): PolicyLoader => policyLoader([dir], engine);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sl-policy-'));
    writeFileSync(join(dir, 'host.yaml'), DOCKER_HOST_YAML);
    engine = new FakeEngine();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('merges labelled containers with the files and resolves them', async () => {
    engine.containers = [dockerContainer('sl-test_web_1', '198.18.64.4', sluiceLabels('30mbit', '30mbit', { 'io.sluice.name': 'web' }))];
    const r = await source().load();
    if (!r.ok) throw new Error(r.issues.map(formatPolicyIssue).join('\n'));
    expect(r.policy.containers.map((c) => [c.name, c.address, c.workload?.name])).toEqual([['web', '198.18.64.4', 'sl-test_web_1']]);
  });

  it('reports a label/file conflict citing both sources', async () => {
    writeFileSync(join(dir, 'web.yaml'), 'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: web }\nspec:\n  match: { docker: { name: sl-test_web_1 } }\n  download: { guarantee: 10mbit }\n  upload: { guarantee: 10mbit }\n');
    engine.containers = [dockerContainer('sl-test_web_1', '198.18.64.4', sluiceLabels('30mbit', '30mbit', { 'io.sluice.name': 'web2' }))];
    const r = await source().load();
    expect(r.ok).toBe(false);
    const text = r.ok ? '' : r.issues.map(formatPolicyIssue).join('\n');
    expect(text).toMatch(/docker container sl-test_web_1 \(labels\): spec\.match\.docker\.name: docker container sl-test_web_1 is also used by container "web" at .*web\.yaml:3:13\n    hint: each namespace, address, cgroup and workload belongs to one policy container/);
  });

  it('counts labelled guarantees in admission', async () => {
    engine.containers = [dockerContainer('a', '198.18.64.2', sluiceLabels('80mbit', '1mbit')), dockerContainer('b', '198.18.64.3', sluiceLabels('80mbit', '1mbit'))];
    const r = await source().load();
    expect(r.ok ? '' : r.issues.map((i) => i.message).join('\n')).toMatch(/admission: download guarantees add up to 160mbit/);
  });

  it('says where it looked when the daemon does not answer', async () => {
    engine.reachable = false;
    await expect(source().load()).rejects.toThrow(DockerUnreachableError);
    await expect(source().load()).rejects.toThrow('cannot reach the Docker daemon at unix:///run/sl-fake.sock (ENOENT)');
  });

  it('needs no daemon for a host without a docker section', async () => {
    writeFileSync(join(dir, 'host.yaml'), DOCKER_HOST_YAML.replace(/  docker:.*\n/, '').replace('sl-dk', 'sl-x'));
    engine.reachable = false;
    const r = await source().load();
    expect(r.ok).toBe(true);
  });
});
