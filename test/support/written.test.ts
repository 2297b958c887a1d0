import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_PHASES, GROUP_PHASES, phasesFor } from '../../src/demo/scenario';
import { policyJudge } from '../../src/demo/written';
import { demoJudge, demoPolicy, demoWithTenantsJudge, demoWithTenantsPolicy, DEMO_WITH_TENANTS } from './policy';
import { judgeOf, writtenFromComposeLabels, writtenFromYaml, writtenRate, writtenTreeFromYaml } from './written';

const mbit = (m: Map<string, number> | ReadonlyMap<string, number>): Record<string, number> => Object.fromEntries([...m].map(([k, v]) => [k, Math.round(v / 1e5) / 10]));

describe('the judges\' inputs, read from what the tests wrote', () => {
  it('reads policies/demo.yaml without Sluice\'s parser: the same containers the policy document has', () => {
    const written = writtenFromYaml(readFileSync('policies/demo.yaml', 'utf8'));
    expect(written.capacity).toEqual({ download: 100e6, upload: 100e6 });
    expect(written.containers.map((c) => [c.name, c.download.guarantee, c.download.ceiling, c.download.priority])).toEqual([
      ['web', 30e6, undefined, 0],
      ['api', 20e6, undefined, 1],
      ['batch', 20e6, 90e6, 2],
      ['backup', 10e6, undefined, 2],
    ]);
  });

  it('refuses a rate unit it does not read rather than guess', () => {
    expect(writtenRate('1.5gbit')).toBe(1.5e9);
    expect(() => writtenRate('100mbps')).toThrow(/does not read/);
  });

  it('the compose file\'s labels say what policies/demo.yaml says', () => {
    const labels = writtenFromComposeLabels(readFileSync('docker-compose.test.yml', 'utf8'), 100e6 as never);
    expect(labels).toEqual({ ...writtenFromYaml(readFileSync('policies/demo.yaml', 'utf8')), containers: labels.containers });
    expect(labels.containers).toEqual(writtenFromYaml(readFileSync('policies/demo.yaml', 'utf8')).containers);
  });

  it('each demo phase\'s ideal, from the text as written, equals the one from the parsed policy document (the demo\'s own judge)', () => {
    const fromText = demoJudge();
    const fromDocument = policyJudge(demoPolicy());
    for (const dir of ['download', 'upload'] as const) {
      for (const phase of DEMO_PHASES) expect(mbit(fromText.expect(dir, phase.active).ideal), `${dir} ${phase.name}`).toEqual(mbit(fromDocument.expect(dir, phase.active).ideal));
    }
  });

  it('"rank": priority 0 takes the excess over priority 1 (80:20), which swapping their classes would turn to 20:80', () => {
    const rank = DEMO_PHASES.find((p) => p.name === 'rank')!;
    expect(mbit(demoJudge().expect('download', rank.active).ideal)).toEqual({ web: 80, api: 20, batch: 0, backup: 0 });
  });

  it('guarantees above the link are water-filled by priority from the written ones (overcommit scaling is the oracle\'s)', () => {
    const judge = judgeOf({ capacity: { download: 100e6 as never, upload: 100e6 as never }, containers: [
      { name: 'a', download: { guarantee: 60e6 as never, priority: 0 }, upload: { guarantee: 60e6 as never } },
      { name: 'b', download: { guarantee: 60e6 as never, priority: 1 }, upload: { guarantee: 60e6 as never } },
    ] });
    expect(mbit(judge.expect('download', ['a', 'b']).ideal)).toEqual({ a: 60, b: 40 });
    expect(judge.expect('download', ['a', 'b']).containers.map((c) => c.guarantee)).toEqual([60e6, 60e6]);
  });

  it('reads policies/tenants.yaml beside demo.yaml without Sluice\'s parser: the groups as written, each container with its group', () => {
    const written = writtenTreeFromYaml(DEMO_WITH_TENANTS.map((p) => readFileSync(p, 'utf8')).join('\n---\n'));
    expect(written.groups).toEqual([
      { name: 'shop', download: { guarantee: 10e6, ceiling: 60e6, priority: 1 }, upload: { guarantee: 10e6, ceiling: 60e6, priority: 1 } },
      { name: 'lab', download: { guarantee: 5e6, priority: 3 }, upload: { guarantee: 5e6, priority: 3 } },
    ]);
    expect(written.containers.map((c) => [c.name, c.group])).toEqual([['web', undefined], ['api', undefined], ['batch', undefined], ['backup', undefined], ['web-shop', 'shop'], ['db-shop', 'shop'], ['notebook', 'lab']]);
  });

  it('with the tenants, every phase\'s ideal from the text as written equals the one from the parsed documents (the demo\'s own judge, hierarchical)', () => {
    const fromText = demoWithTenantsJudge();
    const policy = demoWithTenantsPolicy();
    const fromDocument = policyJudge(policy);
    const phases = phasesFor(policy.containers.map((c) => c.name));
    expect(phases.map((p) => p.name)).toEqual([...DEMO_PHASES, ...GROUP_PHASES].map((p) => p.name));
    for (const dir of ['download', 'upload'] as const) {
      for (const phase of phases) {
        const [text, document] = [fromText.expect(dir, phase.active), fromDocument.expect(dir, phase.active)];
        expect(mbit(text.ideal), `${dir} ${phase.name}`).toEqual(mbit(document.ideal));
        expect(text.containers, `${dir} ${phase.name}`).toEqual(document.containers);
      }
    }
  });

  it('"tenants": shop (p1) borrows up to its 60 mbit ceiling for its lone busy member, backup (p2) the rest, lab (p3) keeps its 5', () => {
    const tenants = GROUP_PHASES.find((p) => p.name === 'tenants')!;
    const { ideal, containers } = demoWithTenantsJudge().expect('download', tenants.active);
    expect(mbit(ideal)).toEqual({ web: 0, api: 0, batch: 0, backup: 35, 'web-shop': 60, 'db-shop': 0, notebook: 5, shop: 60, lab: 5 });
    // The judged containers are the leaves, a member's ceiling its group's where it writes none.
    expect(containers.map((c) => [c.id, c.ceiling / 1e6])).toEqual([['web', 100], ['api', 100], ['batch', 90], ['backup', 100], ['web-shop', 60], ['db-shop', 60], ['notebook', 100]]);
  });
});
