// bench/netnsSetup: how long the namespaces Sluice creates take to set up, IPv4-only or
// dual-stack: N managed containers applied in stages (namespaces; links; each container
// namespace's links up, addresses and routes; the host's objects), then a second apply
// (which must plan nothing) and a destroy. Compare versions side by side, alternating
// runs in one session. Run as root:
//   npx tsx bench/netnsSetup.ts [N] [--dual-stack]      (N default 200)
import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { deleteNetns, listNetns } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { executeInStages, syntheticPolicyDirect } from './fixtures';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'netnsSetup',
  usage: `bench/netnsSetup: how long the namespaces Sluice creates take to set up, in stages, then a second apply and a destroy
  flock /run/sluice-dev.lock npx tsx bench/netnsSetup.ts [N] [--dual-stack]   (root; builds namespaces: under the lock)
  N             managed containers (200)
  --dual-stack  IPv4 and IPv6 (default: IPv4 only)
  --help        this text`,
  switches: ['--dual-stack'],
  positionals: { max: 1, pattern: /^\d+$/ },
});

const HOST_NETNS = 'sl-ns-host';

function cleanup(): void {
  for (const ns of listNetns()) if (ns.startsWith('sl-ns-')) deleteNetns(ns);
}

async function main(): Promise<void> {
  const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 200);
  const dualStack = process.argv.includes('--dual-stack');
  const policy = syntheticPolicyDirect(n, { dualStack, name: 'bench-netns', hostNetns: HOST_NETNS, namespacePrefix: 'sl-ns-c', capacity: 10e9 });
  cleanup();
  const kernel = new RtnlKernel();
  const store = new MemoryOwnershipStore();
  const applier = new Applier(kernel, store, nativeProbe, await detectFeatures());
  try {
    const planned = await applier.plan(policy);
    const start = performance.now();
    const parts = (await executeInStages(kernel, store, policy, planned.plan)).map((stage) => `${stage.label} ${stage.ms.toFixed(0)}`);
    const total = performance.now() - start;
    const again = await applier.apply(policy);
    const t = performance.now();
    await applier.destroy(policy.host.name, policy);
    const destroyMs = performance.now() - t;
    console.log(
      `${n} containers${dualStack ? ', dual-stack' : ', IPv4-only'}: ${total.toFixed(0)} ms = ${(total / n).toFixed(2)} ms per container (${parts.join(' ms, ')} ms); second apply ${again.plan.length} operations; destroy ${destroyMs.toFixed(0)} ms`,
    );
  } finally {
    await kernel.close();
    cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  cleanup();
  process.exit(1);
});
