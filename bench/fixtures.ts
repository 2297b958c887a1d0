// Synthetic policies for benchmarks: N managed containers on one host.
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
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
        source,
      };
    }),
    schedules: [],
  };
}
