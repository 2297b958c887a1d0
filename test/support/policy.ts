// The demo policy, renamed into a test's own namespaces (sl-<prefix>…), so a test never
// touches an operator's demo sandbox.
import { readFileSync } from 'node:fs';
import type { Judge } from '../../src/measure/judge';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import type { ResolvedWorkload } from '../../src/workload/workload';
import { judgeOfFile, treeJudgeOfFiles } from './written';

export function demoPolicyFor(prefix: string, edit: (text: string) => string = (t) => t): Policy {
  const text = edit(readFileSync('policies/demo.yaml', 'utf8'))
    .replace(/name: demo\b/, `name: ${prefix}demo`)
    .replace(/\bsl-(host|web|api|batch|backup)\b/g, `sl-${prefix}$1`);
  const r = parsePolicyTexts([{ path: `${prefix}demo.yaml`, text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

/** The smallest valid Host: a /24, 100 mbit/s each way, every default. */
export const MINIMAL_HOST = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: h }
spec:
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
`;

/** The demo policy as it is in policies/demo.yaml, optionally edited first. */
export function demoPolicy(transform: (text: string) => string = (t) => t): Policy {
  const r = parsePolicyTexts([{ path: 'policies/demo.yaml', text: transform(readFileSync('policies/demo.yaml', 'utf8')) }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

/** The judge of policies/demo.yaml as written (after the same edit as demoPolicyFor's), read without Sluice's parser. */
export const demoJudge = (edit: (text: string) => string = (t) => t): Judge => judgeOfFile('policies/demo.yaml', edit);

/** What `sluice demo` loads by default: policies/demo.yaml and the two tenants of policies/tenants.yaml beside it. */
export const DEMO_WITH_TENANTS = ['policies/demo.yaml', 'policies/tenants.yaml'] as const;

/** The demo's default policy documents, parsed and validated as the demo does. */
export function demoWithTenantsPolicy(): Policy {
  const r = parsePolicyTexts(DEMO_WITH_TENANTS.map((path) => ({ path, text: readFileSync(path, 'utf8') })));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

/** The hierarchical judge of demo.yaml and tenants.yaml as written, read without Sluice's parser. */
export const demoWithTenantsJudge = (): Judge => treeJudgeOfFiles(DEMO_WITH_TENANTS);

/** A Host on a runtime's bridge (sl-rbr0 in sl-rt, 198.18.70.0/24) with Docker enabled, and one container, app, matching a Docker workload. */
const EXTERNAL_HOST = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: ext }
spec:
  netns: sl-rt
  bridge: sl-rbr0
  ifb: sl-rifb0
  subnet: 198.18.70.0/24
  capacity: { download: 100mbit, upload: 100mbit }
  docker: {}
---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: app }
spec:
  match: { docker: { name: app } }
  download: { guarantee: 10mbit }
  upload: { guarantee: 10mbit }
`;

/** That policy as a source resolved it with `workload`: what any source (Docker, CNI) hands the core; the core does not look at which. */
export function externalPolicy(workload: ResolvedWorkload): Policy {
  const r = parsePolicyTexts([{ path: 'ext.yaml', text: EXTERNAL_HOST }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return { ...r.policy, containers: r.policy.containers.map((c) => ({ ...c, address: workload.addresses.v4[0]!, workload })) };
}
