// Shared by the benchmarks: synthetic policies (N managed containers on one host) and a plan executed in timed stages.
import { createdObjects } from '../src/apply/ownership';
import { recordAhead } from '../src/apply/record';
import type { KernelPort } from '../src/kernel/port';
import type { Plan } from '../src/tc/operation';
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
import type { OwnershipStore } from '../src/ports/ownership';
import { bitsPerSec } from '../src/units/units';

export function syntheticPolicyText(containers: number, options: { mode?: 'shared' | 'per-device'; capacity?: string } = {}): string {
  const docs = [
    `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: bench }
spec:
  mode: ${options.mode ?? 'shared'}
  netns: sl-bench
  subnet: 198.18.0.0/16
  capacity: { download: ${options.capacity ?? '100gbit'}, upload: ${options.capacity ?? '100gbit'} }
`,
  ];
  for (let i = 0; i < containers; i++) {
    const ip = `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
    docs.push(`apiVersion: sluice.dev/v1
kind: Container
metadata: { name: c${i} }
spec:
  match: { managed: sl-c${i} }
  address: ${ip}
  download: { guarantee: 1mbit, ceiling: 1gbit, priority: ${i % 8} }
  upload: { guarantee: 1mbit, priority: ${i % 8} }
`);
  }
  return docs.join('---\n');
}

export function syntheticPolicy(containers: number, options: { mode?: 'shared' | 'per-device'; capacity?: string } = {}): Policy {
  const r = parsePolicyTexts([{ path: `bench-${containers}.yaml`, text: syntheticPolicyText(containers, options) }]);
  if (!r.ok) throw new Error(`bench policy invalid: ${r.issues.slice(0, 3).map((i) => i.message).join('; ')}`);
  return r.policy;
}

export interface DirectOptions {
  readonly mode?: 'shared' | 'per-device';
  /** managed: each container in its own namespace; ip: classified by address only. */
  readonly match?: 'managed' | 'ip';
  readonly name?: string;
  readonly hostNetns?: string;
  /** Managed containers' namespaces are `<prefix><i>`. */
  readonly namespacePrefix?: string;
  readonly capacity?: number;
  /** Dual-stack: the Host has subnet6 2001:2::/64, so managed containers get IPv6 addresses too. */
  readonly dualStack?: boolean;
  /** Groups g0…g<n-1> (each guaranteeing its members' sum, priority i % 8); container i joins g<i % n>. */
  readonly groups?: number;
}

/** The synthetic policy built directly (no YAML), so benchmarks measure what they name alone. */
export function syntheticPolicyDirect(containers: number, options: DirectOptions = {}): Policy {
  const capacity = bitsPerSec(options.capacity ?? 100e9);
  const source = { file: 'bench', line: 1, column: 1 };
  const host = { name: options.name ?? 'bench', mode: options.mode ?? 'shared', netns: options.hostNetns ?? 'sl-bench', bridge: 'sl-br0', ifb: 'sl-ifb0', subnet: '198.18.0.0/16', gateway: '198.18.0.1' };
  return {
    host: { ...host, ...(options.dualStack ? { subnet6: '2001:2::/64', gateway6: '2001:2::c612:1' } : {}), capacity: { download: capacity, upload: capacity }, overcommit: 'reject', external: false, sources: [], source },
    containers: Array.from({ length: containers }, (_, i) => {
      const address = `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
      return {
        name: `c${i}`,
        match: options.match === 'ip' ? { kind: 'ip' as const, address } : { kind: 'managed' as const, netns: `${options.namespacePrefix ?? 'sl-c'}${i}` },
        address,
        bandwidth: {
          download: { guarantee: bitsPerSec(1e6), ceiling: bitsPerSec(Math.min(1e9, capacity)), priority: i % 8 },
          upload: { guarantee: bitsPerSec(1e6), ceiling: capacity, priority: i % 8 },
        },
        ...(options.groups ? { group: `g${i % options.groups}` } : {}),
        source,
      };
    }),
    groups: Array.from({ length: options.groups ?? 0 }, (_, i) => ({
      name: `g${i}`,
      bandwidth: { download: { ceiling: capacity, priority: i % 8 }, upload: { ceiling: capacity, priority: i % 8 } },
      source,
    })),
    schedules: [],
  };
}

export interface StageTime {
  readonly label: string;
  readonly operations: number;
  readonly ms: number;
}

/**
 * A fresh machine's plan for `policy` executed in stages, each timed on its own:
 * namespaces; links; each container namespace's own objects; the host namespace's
 * addresses, sysctls and tc. Recorded ahead in `store` as apply records it, so a later
 * apply adopts and destroy removes what the stages made.
 */
export async function executeInStages(kernel: KernelPort, store: OwnershipStore, policy: Policy, plan: Plan): Promise<StageTime[]> {
  const hostNetns = policy.host.netns;
  const base = { host: policy.host.name, hostNetns, external: [], transient: new Set<string>() };
  await store.write(recordAhead(await store.read(policy.host.name), base, createdObjects(plan)));
  const stages: readonly { label: string; test: (op: Plan[number]) => boolean }[] = [
    { label: 'namespaces', test: (op) => op.object.type === 'namespace' },
    { label: 'links (bridge, IFB, veth pairs into the namespaces)', test: (op) => op.object.type === 'link' && op.op === 'create' },
    { label: 'containers: links up, addresses, routes', test: (op) => 'netns' in op.object && op.object.netns !== hostNetns },
    { label: 'host: addresses, sysctls, qdiscs, classes, filters', test: () => true },
  ];
  let rest = [...plan];
  const times: StageTime[] = [];
  for (const stage of stages) {
    const ops = rest.filter(stage.test);
    rest = rest.filter((op) => !stage.test(op));
    const t = performance.now();
    const r = await kernel.execute(ops);
    if (r.failed) throw r.failed.error;
    times.push({ label: stage.label, operations: ops.length, ms: performance.now() - t });
  }
  return times;
}
