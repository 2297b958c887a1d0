// What routing costs traffic between two containers on one Sluice bridge: goodput a → b,
// no ceiling binding (link at 10 gbit/s), with the ports isolated (routed through the
// bridge device, shaped by both trees) against switched (the ports as they were before
// issue #23's same-bridge change), alternating in one sandbox, side by side.
//   flock /run/sluice-dev.lock npx tsx bench/sameBridge.ts [--rounds 3] [--seconds 5]
import { loadavg } from 'node:os';
import { Applier } from '../src/apply/applier';
import { buildSandbox, teardownDemo } from '../src/demo/run';
import { TrafficRig } from '../src/demo/traffic';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { monotonicMs } from '../src/loadgen/protocol';
import { parsePolicyTexts } from '../src/policy/load';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { forgetNeighbours, switchedPorts } from '../test/support/sameBridge';
import { exitUnlessRunnable, numberOption } from './args';

exitUnlessRunnable({
  name: 'sameBridge',
  usage: `bench/sameBridge: what routing costs traffic between two containers on one Sluice bridge: isolated ports against switched, side by side
  flock /run/sluice-dev.lock npx tsx bench/sameBridge.ts [options]   (root; builds a sandbox and drives traffic: under the lock)
  --rounds N    alternating rounds (3)
  --seconds N   each measurement (5)
  --help        this text`,
  numbers: ['--rounds', '--seconds'],
});

const rounds = numberOption('--rounds', 3);
const seconds = numberOption('--seconds', 5);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const container = (name: string, octet: number): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${name} }
spec:
  match: { managed: sl-bsb${name} }
  address: 198.18.0.${octet}
  download: { guarantee: 100mbit }
  upload: { guarantee: 100mbit }
`;
const TEXT = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: bsb-same }
spec:
  mode: shared
  netns: sl-bsbhost
  bridge: sl-bsbbr
  ifb: sl-bsbifb
  subnet: 198.18.0.0/24
  capacity: { download: 10gbit, upload: 10gbit }
${container('a', 10)}${container('b', 11)}`;

async function main(): Promise<void> {
  const r = parsePolicyTexts([{ path: 'sameBridge.yaml', text: TEXT }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  const policy = r.policy;
  const kernel = new RtnlKernel();
  const deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  let rig: TrafficRig | undefined;
  try {
    const compiled = await buildSandbox(deps, policy, () => undefined);
    const [a, b] = ['a', 'b'].map((n) => compiled.containers.find((c) => c.name === n)!);
    rig = await TrafficRig.start({ peerNetns: b!.netns!, peerAddress: b!.address!, containers: [{ name: 'a', netns: a!.netns!, address: a!.address!, flows: 2 }], directions: ['upload'] });
    const measure = async (): Promise<number> => {
      const from = rig!.setActive('upload', ['a']);
      await sleep(seconds * 1000);
      const rate = rig!.goodput('upload', from, monotonicMs(), 1000).get('a') ?? 0;
      rig!.setActive('upload', []);
      await sleep(1000);
      return rate / 1e6;
    };
    console.log(`a → b goodput, Mbit/s (${seconds} s each, 1 s warmup; load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
    for (let i = 0; i < rounds; i++) {
      // Each way from fresh neighbour entries: a stale one keeps the other path.
      await deps.applier.apply(policy);
      forgetNeighbours([a!.netns!, b!.netns!]);
      const routed = await measure();
      await deps.applier.apply(policy, false, switchedPorts);
      forgetNeighbours([a!.netns!, b!.netns!]);
      const direct = await measure();
      console.log(`round ${i + 1}: isolated (routed) ${routed.toFixed(0)} · switched ${direct.toFixed(0)} · ratio ${(routed / direct).toFixed(2)}`);
    }
    console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await rig?.stop();
    await teardownDemo(deps, policy).catch(() => undefined);
    await kernel.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
