import { describe, expect, it } from 'vitest';
import { labelDocuments, policyName } from '../../../src/sources/docker/labels';
import { formatPolicyIssue } from '../../../src/policy/load';
import { dockerContainer, sluiceLabels } from './fakeEngine';

describe('Docker labels as a policy source', () => {
  it('turns io.sluice.* labels into a Container document matching the container by name', () => {
    const c = dockerContainer('sl-test_web_1', '198.18.64.4', sluiceLabels('30mbit', '20mbit', { 'io.sluice.download.priority': '0', 'io.sluice.upload.ceiling': '90mbit' }));
    const { documents, issues } = labelDocuments([c]);
    expect(issues).toEqual([]);
    expect(documents).toHaveLength(1);
    const doc = documents[0]!.value;
    expect(doc.kind).toBe('Container');
    expect(doc.metadata.name).toBe('sl-test-web-1');
    expect(doc.spec).toMatchObject({ match: { docker: { name: 'sl-test_web_1' } }, download: { guarantee: 30e6, priority: 0 }, upload: { guarantee: 20e6, ceiling: 90e6 } });
  });

  it('takes the policy name from io.sluice.name, and ignores containers without Sluice labels', () => {
    const { documents } = labelDocuments([dockerContainer('a', '198.18.64.2', sluiceLabels('1mbit', '1mbit', { 'io.sluice.name': 'web' })), dockerContainer('b', '198.18.64.3', { other: 'x' })]);
    expect(documents.map((d) => d.value.metadata.name)).toEqual(['web']);
  });

  it('reports bad labels by label, citing the container, without line numbers', () => {
    const c = dockerContainer('db', '198.18.64.2', { 'io.sluice.download.guarantee': '10mbps', 'io.sluice.upload.guarantee': '1mbit', 'io.sluice.upload.prio': '1' });
    const unknown = labelDocuments([c]).issues;
    expect(unknown.map(formatPolicyIssue).join('\n')).toMatch(/^docker container db \(labels\): label io\.sluice\.upload\.prio: unknown Sluice label/);
    const badUnit = labelDocuments([dockerContainer('db', '198.18.64.2', sluiceLabels('10mbps', '1mbit'))]).issues;
    expect(badUnit[0]).toMatchObject({ file: 'docker container db (labels)', path: 'label io.sluice.download.guarantee' });
    const missing = labelDocuments([dockerContainer('db', '198.18.64.2', { 'io.sluice.download.guarantee': '1mbit' })]).issues;
    expect(missing[0]!.message).toBe('no upload guarantee');
  });

  it('joins the group io.sluice.group names (a group of the files)', () => {
    const { documents, issues } = labelDocuments([dockerContainer('a', '198.18.64.2', sluiceLabels('1mbit', '1mbit', { 'io.sluice.group': 'shop' }))]);
    expect(issues).toEqual([]);
    expect(documents[0]!.value.spec).toMatchObject({ group: 'shop' });
    const bad = labelDocuments([dockerContainer('a', '198.18.64.2', sluiceLabels('1mbit', '1mbit', { 'io.sluice.group': 'Not A Name' }))]).issues;
    expect(bad[0]).toMatchObject({ path: 'label io.sluice.group' });
  });

  it('makes Docker names into policy names', () => {
    expect(policyName('sl-test_web_1')).toBe('sl-test-web-1');
    expect(policyName('My.App')).toBe('my-app');
    expect(policyName('x'.repeat(40))).toHaveLength(32);
  });
});
