// bench/bothWays: rule 1 (a busy container's guarantee is never taken) when every busy
// container of a random draw sends both directions at once. A container's download ACKs
// travel in its own upload class and its upload ACKs in its download class, each behind a
// 1,000-packet pfifo leaf shared with its bulk data: at a 2 Mbit/s guarantee that FIFO
// holds seconds. Each direction is judged as randomPolicies judges a one-way phase: the
// oracle fed from the draw itself, 3% of the link per container, floor 90% of
// min(ideal, guarantee). `--one-way` adds each direction alone afterwards (the same
// sandbox, switchTo between phases) to compare. Compile gives every shared tree over a
// pfifo leaf an ACK class (docs/decisions.md "A container busy both ways"); `--no-ack-class`
// deletes its u32 nodes by hand after the sandbox is built (the tree as it was before it,
// the kernel test's negative control). The phases themselves are test/support/bothWays'.
// Prints figures and verdicts; exits 0 either way.
import { execFileSync } from 'node:child_process';
import { Applier } from '../src/apply/applier';
import { PEER_NETNS } from '../src/demo/peer';
import { buildSandbox, teardownDemo, type DemoDeps } from '../src/demo/run';
import { detectFeatures } from '../src/kernel/rtnl/features';
import type { Verdict } from '../src/measure/verdict';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import type { Direction } from '../src/tc/model';
import { nativeProbe } from '../src/wiring/runtime';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { ackClassCounts, loadPhase, removeAckNodes, startBothWays, WARMUP_MS } from '../test/support/bothWays';
import { describeDraw, drawFromSeed, parseDraw, type RandomDraw } from '../test/support/randomPolicy';
import { exitUnlessRunnable, numberOption, optionValue } from './args';

exitUnlessRunnable({
  name: 'bothWays',
  usage: `bench/bothWays: random draws, every busy container sending both directions at once, each direction judged (rule 1: guarantees)
  flock /run/sluice-dev.lock npx tsx bench/bothWays.ts [--seeds 1,2,…] [--seconds 5] [--one-way] [--no-ack-class]   (root; sandboxes and traffic: under the lock; ~15 s a seed, ~30 s with --one-way)
  --seeds     draws to run, comma-separated (1–25); a seed draws the same policy and flows as in randomPolicies
  --seconds   measured seconds per phase after a 1.5 s warm-up (5)
  --one-way   also each direction alone, after the both-ways phase
  --no-ack-class  compile's ACK nodes deleted with tc after the sandbox is built: pure ACKs queue in the containers' classes, as before the ACK class
  --help      this text`,
  valued: ['--seeds'],
  numbers: ['--seconds'],
  switches: ['--one-way', '--no-ack-class'],
});

const PREFIX = 'bw-';
const DEFAULT_SEEDS = Array.from({ length: 25 }, (_, i) => i + 1).join(',');

const seeds = optionValue('--seeds', DEFAULT_SEEDS).split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  console.error(`bench/bothWays: --seeds takes non-negative integers, comma-separated (got ${optionValue('--seeds', '')})`);
  process.exit(2);
}
const seconds = numberOption('--seconds', 5);
const oneWay = process.argv.includes('--one-way');
const ackClass = !process.argv.includes('--no-ack-class');

const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const mbit = (bits: number): string => (bits / 1e6).toFixed(2);

/** The smoothed RTTs (ms) of the established flows `ss -tin` lists in `netns`, by their destination or source address. */
function rttsByAddress(netns: string, side: 'dst' | 'src'): Map<string, number[]> {
  const out = sh('ip', ['netns', 'exec', netns, 'ss', '-tinH', 'state', 'established']);
  const byAddress = new Map<string, number[]>();
  // ss -tinH prints a line of addresses, then a line of TCP info, for each socket.
  const lines = out.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const addrs = /(\d+\.\d+\.\d+\.\d+):\d+\s+(\d+\.\d+\.\d+\.\d+):\d+/.exec(lines[i]!);
    const rtt = / rtt:([\d.]+)\//.exec(lines[i + 1]!);
    if (!addrs || !rtt) continue;
    const address = side === 'dst' ? addrs[2]! : addrs[1]!;
    byAddress.set(address, [...(byAddress.get(address) ?? []), Number(rtt[1])]);
  }
  return byAddress;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Per busy container: the median RTT its download senders (in the peer) and its upload senders (in it) see. */
function rttLine(site: { readonly containers: readonly { readonly name: string; readonly netns: string; readonly address: string }[] }, dirs: readonly Direction[]): string {
  const peer = dirs.includes('download') ? rttsByAddress(PEER_NETNS, 'dst') : new Map<string, number[]>();
  return site.containers
    .map((c) => {
      const down = peer.get(c.address);
      const up = dirs.includes('upload') ? rttsByAddress(c.netns, 'src').get(c.address) : undefined;
      return `${c.name} down ${down ? median(down).toFixed(0) : '-'} up ${up ? median(up).toFixed(0) : '-'}`;
    })
    .join(', ');
}

function printVerdict(seed: number, label: string, dir: Direction, v: Verdict, classRates: ReadonlyMap<string, number>): void {
  const failed = v.containers.filter((c) => !c.pass).map((c) => c.id);
  console.log(`  ${label} ${dir}: ${v.pass ? 'PASS' : 'FAIL'}${failed.length ? ` (${failed.join(' ')})` : ''} link ${mbit(v.totalMeasured)} of ideal ${mbit(v.totalIdeal)}${v.utilisationPass ? '' : ' UTILISATION'} drops ${v.totalDrops ?? '?'}`);
  for (const c of v.containers) {
    if (!(c.floor > 0)) continue;
    const why = c.pass ? '' : c.floorPass ? ' OFF' : ' BELOW-FLOOR';
    console.log(`    seed ${seed} ${label} ${dir} ${c.id}: measured ${mbit(c.measured)} class ${mbit(classRates.get(c.id) ?? 0)} ideal ${mbit(c.ideal)} floor ${mbit(c.floor)} err ${(c.errorOfCapacity * 100).toFixed(1)}%${why}`);
  }
}

async function runSeed(deps: DemoDeps, seed: number, index: number): Promise<void> {
  const draw: RandomDraw = drawFromSeed(seed, index);
  const policy = parseDraw(draw, PREFIX);
  console.log(`seed ${seed}: ${describeDraw(draw)}`);
  try {
    const compiled = await buildSandbox(deps, policy, () => undefined);
    if (!ackClass) console.log(`  no-ack-class: ${removeAckNodes(compiled)} u32 nodes deleted`);
    const run = await startBothWays(deps, compiled, draw);
    try {
      const phases: (readonly Direction[])[] = oneWay ? [['download', 'upload'], ['download'], ['upload']] : [['download', 'upload']];
      for (const dirs of phases) {
        const label = dirs.length === 2 ? 'both' : 'alone';
        let rtt = '';
        const { verdicts, classRates } = await loadPhase(run, dirs, seconds, () => (rtt = rttLine(run, dirs)));
        for (const [d, v] of verdicts) printVerdict(seed, label, d, v, classRates.get(d)!);
        console.log(`  ${label} rtt ms (median per container): ${rtt}`);
        console.log(`  RESULT seed ${seed} ${label} ${[...verdicts].map(([d, v]) => `${d}:${v.pass ? 'pass' : 'FAIL'}`).join(' ')}`);
      }
      const acks = ackClassCounts(compiled).map((a) => `${a.dev}: ${a.packets} packets, ${a.bytes} bytes, ${a.dropped} dropped`);
      console.log(`  ack-class${ackClass ? '' : ' (nodes deleted)'}: ${acks.join('; ')}`);
    } finally {
      await run.rig.stop();
    }
  } finally {
    await teardownDemo(deps, policy).catch(() => undefined);
  }
}

function removeLeftovers(): void {
  for (const ns of sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!)) {
    if (ns.startsWith(`sl-${PREFIX}`) || ns === PEER_NETNS) sh('ip', ['netns', 'del', ns]);
  }
}

async function main(): Promise<void> {
  console.log(`bothWays: seeds ${seeds.join(',')}, ${seconds} s measured after ${WARMUP_MS / 1000} s${oneWay ? ', then each direction alone' : ''}${ackClass ? '' : ', ACK nodes deleted (--no-ack-class)'}; replay one with --seeds <seed>`);
  removeLeftovers();
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  try {
    for (const [i, seed] of seeds.entries()) await runSeed(deps, seed, i);
  } finally {
    await kernel.close();
    removeLeftovers();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
