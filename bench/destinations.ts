// bench/destinations: what destination classes cost per packet, and what a live change
// costs the traffic (issue #23). Side by side, alternating, in one run:
//   1x1      – one container, one cluster CIDR;
//   1000x50  – 1,000 containers (one with a namespace and traffic, the rest matched by
//              address: classes and filters in every set's HTB) and 50 cluster CIDRs.
// The link is 10 gbit/s each way (above what this machine forwards), so the rate shows
// the datapath's cost, not shaping. The busy container talks to the demo's peer, in the
// default set: its packets pass every prefix length's table before the default filter.
// Then, with 1000x50 applied and traffic running, one apply adds a CIDR and halves the
// default set's capacity; the largest gap between received bytes (the receiver's own
// samples) during that apply is printed, beside the same figure over as long a window without it.
// Run as root, under the kernel lock:
//   flock /run/sluice-dev.lock npx tsx bench/destinations.ts [--rounds 2] [--seconds 5]
// (--rounds 0: the live change only)
import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { buildSandbox, sandboxSite, teardownDemo, type DemoDeps } from '../src/demo/run';
import { TrafficRig } from '../src/demo/traffic';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { monotonicMs } from '../src/loadgen/protocol';
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
import type { Direction } from '../src/tc/model';
import { readFileSync } from 'node:fs';
import { exitUnlessRunnable, numberOption } from './args';

exitUnlessRunnable({
  name: 'destinations',
  usage: `bench/destinations: what destination classes cost per packet (1x1 against 1000x50), and the largest gap in received bytes during a live apply (issue #23)
  flock /run/sluice-dev.lock npx tsx bench/destinations.ts [options]   (root; builds namespaces and drives traffic: under the lock)
  --rounds N    alternating rounds of 1x1 and 1000x50 (2; 0: the live change only)
  --seconds N   each measurement (5)
  --help        this text`,
  numbers: ['--rounds', '--seconds'],
});

const rounds = numberOption('--rounds', 2); // 0: the live change only
const seconds = numberOption('--seconds', 5);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function policyText(containers: number, cidrs: number, extraCidr = false, internetMbit = 10_000): string {
  const list = Array.from({ length: cidrs }, (_, i) => `10.${i}.0.0/16`);
  if (extraCidr) list.push('172.16.0.0/12');
  const pods = Array.from({ length: containers - 1 }, (_, i) => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ip${i} }
spec:
  match: { ip: 198.18.${1 + Math.floor(i / 250)}.${(i % 250) + 2} }
  download: { peers: { internet: { guarantee: 1mbit } } }
  upload: { peers: { internet: { guarantee: 1mbit } } }
`);
  return `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: bd-host }
spec:
  netns: sl-bd-host
  bridge: sl-bd-br0
  ifb: sl-bd-ifb0
  subnet: 198.18.0.0/20
  capacity: { download: 10gbit, upload: 10gbit }
  peers:
    cluster: [${list.join(', ')}]
    internet: { capacity: { download: ${internetMbit}mbit, upload: ${internetMbit}mbit } }
---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: web }
spec:
  match: { managed: sl-bd-web }
  address: 198.18.0.10
  download: { peers: { internet: { guarantee: 10mbit } } }
  upload: { peers: { internet: { guarantee: 10mbit } } }
${pods.join('')}`;
}

function parse(text: string): Policy {
  const r = parsePolicyTexts([{ path: 'bench.yaml', text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return r.policy;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function throughput(deps: DemoDeps, policy: Policy, direction: Direction): Promise<{ mbit: number; applyMs: number }> {
  const t0 = monotonicMs();
  const compiled = await buildSandbox(deps, policy, () => undefined);
  const applyMs = monotonicMs() - t0;
  const site = sandboxSite(compiled);
  const rig = await TrafficRig.start({ ...site, containers: site.containers.map((c) => ({ ...c, flows: 2 })), directions: [direction] });
  try {
    const from = rig.setActive(direction, ['web']);
    await sleep(seconds * 1000);
    const rate = rig.goodput(direction, from, monotonicMs(), 1000).get('web') ?? 0;
    return { mbit: rate / 1e6, applyMs };
  } finally {
    await rig.stop();
  }
}

/**
 * The largest gap (ms) between increases of the bytes `web` received, over `ms` from now,
 * while `during` runs: read afterwards from the receiver's own timestamped samples, so a
 * compile in this process does not show as a gap.
 */
async function largestGap(rig: TrafficRig, direction: Direction, ms: number, during?: () => Promise<unknown>): Promise<number> {
  const from = monotonicMs();
  await Promise.all([during?.(), sleep(ms)]);
  const to = monotonicMs();
  const samples = rig.samples(direction, 'web').filter((x) => x.t >= from && x.t <= to);
  let gap = 0;
  let lastAt = from;
  let last = samples[0]?.bytes ?? 0;
  for (const x of samples) {
    if (x.bytes === last) continue;
    gap = Math.max(gap, x.t - lastAt);
    last = x.bytes;
    lastAt = x.t;
  }
  return Math.max(gap, to - lastAt);
}

async function main(): Promise<void> {
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  const configs = [
    { name: '1x1', policy: parse(policyText(1, 1)) },
    { name: '1000x50', policy: parse(policyText(1000, 50)) },
  ];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const direction of ['download', 'upload'] as const) {
        const got: string[] = [];
        for (const c of r % 2 === 0 ? configs : [...configs].reverse()) {
          try {
            const t = await throughput(deps, c.policy, direction);
            got.push(`${c.name} ${t.mbit.toFixed(0)} Mbit/s (apply ${t.applyMs.toFixed(0)} ms)`);
          } finally {
            await teardownDemo(deps, c.policy);
          }
        }
        console.log(`round ${r + 1} ${direction}: ${got.join(' · ')} · load ${loadavg()}`);
      }
    }
    // Live change with 1000x50 and traffic: one apply adding a CIDR and changing the default set's capacity.
    const before = configs[1]!.policy;
    const after = parse(policyText(1000, 50, true, 5000));
    const compiled = await buildSandbox(deps, before, () => undefined);
    const site = sandboxSite(compiled);
    const rig = await TrafficRig.start({ ...site, containers: site.containers.map((c) => ({ ...c, flows: 2 })), directions: ['download'] });
    try {
      rig.setActive('download', ['web']);
      await sleep(1500);
      const quiet = await largestGap(rig, 'download', 3000);
      // The control: an apply of the policy already in force (it observes and diffs, changes nothing).
      let noopMs = 0;
      const noop = await largestGap(rig, 'download', 3000, async () => {
        const t0 = monotonicMs();
        await deps.applier.apply(before);
        noopMs = monotonicMs() - t0;
      });
      let applied = 0;
      let ops = 0;
      const withChange = await largestGap(rig, 'download', 3000, async () => {
        const t0 = monotonicMs();
        const a = await deps.applier.apply(after);
        applied = monotonicMs() - t0;
        ops = a.report.applied.length;
      });
      console.log(`live change (add a CIDR, default set 10 -> 5 gbit/s): ${ops} operations in ${applied.toFixed(0)} ms; largest gap in received bytes ${withChange.toFixed(0)} ms during it; ${noop.toFixed(0)} ms during a no-op apply (${noopMs.toFixed(0)} ms); ${quiet.toFixed(0)} ms over 3 s without an apply · load ${loadavg()}`);
    } finally {
      await rig.stop();
      await teardownDemo(deps, after);
    }
  } finally {
    await kernel.close();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
