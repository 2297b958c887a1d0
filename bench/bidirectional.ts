// The demo's busy containers (api, batch, backup) saturating download alone, then both
// directions at once, as the latency test loads them: goodput per direction, the download
// senders' TCP round-trip times (ss, in the peer) and the upload leaves' backlog (tc, on
// the IFB). Prints figures; judges nothing. `npx tsx bench/bidirectional.ts [seconds]`.
import { execFileSync } from 'node:child_process';
import { Applier } from '../src/apply/applier';
import { buildSandbox, sandboxSite, teardownDemo, type DemoDeps } from '../src/demo/run';
import { TrafficRig } from '../src/demo/traffic';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { monotonicMs } from '../src/loadgen/protocol';
import { parsePolicyTexts } from '../src/policy/load';
import type { Direction } from '../src/tc/model';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { readFileSync } from 'node:fs';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'bidirectional',
  usage: `bench/bidirectional: the demo's busy containers saturating download alone, then both directions: goodput, RTTs, upload backlog
  flock /run/sluice-dev.lock npx tsx bench/bidirectional.ts [seconds]   (root; builds the demo sandbox and drives traffic: under the lock)
  seconds   each phase (6)
  --help    this text`,
  positionals: { max: 1, pattern: /^\d+$/ },
});

const seconds = Number(process.argv[2] ?? 6);
const text = readFileSync('policies/demo.yaml', 'utf8').replace(/name: demo\b/, 'name: bd-demo').replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-bd-$1');
const parsed = parsePolicyTexts([{ path: 'bd.yaml', text }]);
if (!parsed.ok) throw new Error('policy');
const policy = parsed.policy;
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Mean, min and max of the `rtt:` figures ss reports for established flows to `port`s in `netns`. */
function rtts(netns: string): string {
  const out = sh('ip', ['netns', 'exec', netns, 'ss', '-tin', 'state', 'established']);
  const values = [...out.matchAll(/ rtt:([\d.]+)\//g)].map((m) => Number(m[1]));
  if (values.length === 0) return 'none';
  values.sort((a, b) => a - b);
  return `${values.length} flows, rtt ms min ${values[0]} median ${values[Math.floor(values.length / 2)]} max ${values.at(-1)}`;
}

function backlog(dev: string): string {
  const out = sh('tc', ['-n', policy.host.netns, '-s', 'qdisc', 'show', 'dev', dev]);
  return [...out.matchAll(/backlog (\S+) (\d+)p/g)].map((m) => `${m[1]}/${m[2]}p`).join(' ');
}

async function main(): Promise<void> {
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  try {
    const compiled = await buildSandbox(deps, policy, () => undefined);
    const site = sandboxSite(compiled);
    const others = site.containers.filter((c) => c.name !== 'web');
    const rig = await TrafficRig.start({ ...site, containers: others, directions: ['download', 'upload'] });
    const busy = others.map((c) => c.name);
    try {
      for (const dirs of [['download'], ['download', 'upload']] as Direction[][]) {
        for (const d of dirs) rig.setActive(d, busy);
        await sleep(1500);
        const from = monotonicMs();
        await sleep(seconds * 500);
        const mid = `download senders ${rtts('sl-peer')}; upload leaves' backlog ${backlog(policy.host.ifb)}; download leaves' backlog ${backlog(policy.host.bridge)}`;
        await sleep(seconds * 500);
        const to = monotonicMs();
        const sum = (d: Direction): number => [...rig.goodput(d, from, to, 0).values()].reduce((a, b) => a + b, 0) / 1e6;
        console.log(`${dirs.join('+')} busy: goodput download ${sum('download').toFixed(1)} mbit/s${dirs.includes('upload') ? `, upload ${sum('upload').toFixed(1)} mbit/s` : ''}; ${mid}; load ${sh('cat', ['/proc/loadavg']).trim()}`);
        for (const d of dirs) rig.setActive(d, []);
        await sleep(1000);
      }
    } finally {
      await rig.stop();
    }
  } finally {
    await teardownDemo(deps, policy).catch(() => undefined);
    await kernel.close();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
