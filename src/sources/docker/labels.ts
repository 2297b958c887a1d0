// Docker-native policy: a running container's io.sluice.* labels become a Container
// document, validated by the same schema and checks as one from a file. Pure.
//
//   io.sluice.name                    policy name (default: the container name, made DNS-safe)
//   io.sluice.group                   the group (kind: Group, in the files) it belongs to
//   io.sluice.<dir>.guarantee         required for both directions (download, upload)
//   io.sluice.<dir>.ceiling|priority|burst

import type { LocatedDocument } from '../../policy/documents';
import type { ExtraDocuments } from '../../policy/load';
import type { PolicyIssue } from '../../policy/issues';
import { API_VERSION, policyDocument } from '../../policy/schema';
import { DIRECTIONS } from '../../tc/model';
import type { DockerContainer } from './model';

export const LABEL_PREFIX = 'io.sluice.';
const DIRECTION_FIELDS = ['guarantee', 'ceiling', 'priority', 'burst'] as const;
const ACCEPTED = ['name', 'group', ...DIRECTIONS.flatMap((d) => DIRECTION_FIELDS.map((f) => `${d}.${f}`))];

/** Where a label-made document came from, as findings cite it. */
export const labelSource = (container: DockerContainer): string => `docker container ${container.name} (labels)`;

/** Container documents for every running container that carries io.sluice.* labels. */
export function labelDocuments(containers: readonly DockerContainer[]): ExtraDocuments {
  const documents: LocatedDocument[] = [];
  const issues: PolicyIssue[] = [];
  for (const c of containers) {
    const keys = Object.keys(c.labels).filter((k) => k.startsWith(LABEL_PREFIX));
    if (keys.length === 0) continue;
    const found = documentOf(c, keys);
    if ('document' in found) documents.push(found.document);
    else issues.push(...found.issues);
  }
  return { documents, issues };
}

function documentOf(c: DockerContainer, keys: readonly string[]): { document: LocatedDocument } | { issues: PolicyIssue[] } {
  const file = labelSource(c);
  const issue = (label: string, message: string, hint?: string): PolicyIssue => ({ file, line: 0, column: 0, path: `label ${label}`, message, ...(hint ? { hint } : {}) });
  const issues: PolicyIssue[] = [];
  for (const key of keys) {
    if (!ACCEPTED.includes(key.slice(LABEL_PREFIX.length))) issues.push(issue(key, 'unknown Sluice label', `Sluice reads ${ACCEPTED.map((a) => LABEL_PREFIX + a).join(', ')}`));
  }
  for (const dir of DIRECTIONS) {
    if (c.labels[`${LABEL_PREFIX}${dir}.guarantee`] === undefined) issues.push(issue(`${LABEL_PREFIX}${dir}.guarantee`, `no ${dir} guarantee`, `add the label ${LABEL_PREFIX}${dir}.guarantee=<rate>, e.g. 10mbit`));
  }
  if (issues.length > 0) return { issues };
  const raw = {
    apiVersion: API_VERSION,
    kind: 'Container',
    metadata: { name: c.labels[`${LABEL_PREFIX}name`] ?? policyName(c.name) },
    spec: { match: { docker: { name: c.name } }, ...groupOf(c.labels), ...Object.fromEntries(DIRECTIONS.map((d) => [d, directionOf(c.labels, d)])) },
  };
  const parsed = policyDocument.safeParse(raw);
  if (!parsed.success) return { issues: parsed.error.issues.map((i) => issue(labelOfPath(i.path), i.message)) };
  return { document: { file, value: parsed.data, locate: () => ({ line: 0, column: 0 }) } };
}

function groupOf(labels: Readonly<Record<string, string>>): { group?: string } {
  const group = labels[`${LABEL_PREFIX}group`];
  return group === undefined ? {} : { group };
}

function directionOf(labels: Readonly<Record<string, string>>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of DIRECTION_FIELDS) {
    const value = labels[`${LABEL_PREFIX}${dir}.${field}`];
    if (value === undefined) continue;
    // Labels are strings; the schema wants the priority as an integer.
    out[field] = field === 'priority' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** The label an issue in the generated document comes from. */
function labelOfPath(path: readonly PropertyKey[]): string {
  if (path[0] === 'metadata') return `${LABEL_PREFIX}name`;
  if (path[0] === 'spec' && path[1] === 'group') return `${LABEL_PREFIX}group`;
  if (path[0] === 'spec' && typeof path[1] === 'string' && path[2] !== undefined) return `${LABEL_PREFIX}${path[1]}.${String(path[2])}`;
  return path.map(String).join('.');
}

/** "sl-test_web_1" → "sl-test-web-1": policy names are lowercase DNS labels of at most 32. */
export function policyName(containerName: string): string {
  const safe = containerName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return (safe.slice(0, 32).replace(/-+$/, '') || 'container');
}
