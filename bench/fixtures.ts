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

/** The same policy built directly (no YAML), so compile benchmarks measure compile alone. */
export function syntheticPolicyDirect(containers: number, mode: 'shared' | 'per-device' = 'shared'): Policy {
  const capacity = bitsPerSec(100e9);
  const source = { file: 'bench', line: 1, column: 1 };
  return {
    host: { name: 'bench', mode, netns: 'sl-bench', bridge: 'sl-br0', ifb: 'sl-ifb0', subnet: '198.18.0.0/16', gateway: '198.18.0.1', capacity: { download: capacity, upload: capacity }, overcommit: 'reject', source },
    containers: Array.from({ length: containers }, (_, i) => ({
      name: `c${i}`,
      match: { kind: 'managed' as const, netns: `sl-c${i}` },
      address: `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`,
      bandwidth: {
        download: { guarantee: bitsPerSec(1e6), ceiling: bitsPerSec(1e9), priority: i % 8 },
        upload: { guarantee: bitsPerSec(1e6), ceiling: capacity, priority: i % 8 },
      },
      source,
    })),
    schedules: [],
  };
}
