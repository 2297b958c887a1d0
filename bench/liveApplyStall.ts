// Issue #23's stall: random set policies applied one over the other onto one live
// sandbox (the draws of test/destinations, each applied while every connection is open),
// and after each apply every busy flow checked to move. A flow that delivers nothing
// (below STALLED_MBIT over the phase) is a stall: the apply's operations, the classes of
// both trees and whether the stuck class recovers are printed.
// --churn: every flow busy in both directions throughout, a draw applied every
// --interval ms; a stall is a class guaranteed ≥ 1 Mbit/s by the draw, holding packets,
// whose bytes did not move since the last apply (checked just before the next).
//   flock /run/sluice-dev.lock npx tsx bench/liveApplyStall.ts [--draws 30] [--seed 100] [--seconds 3]
//   flock /run/sluice-dev.lock npx tsx bench/liveApplyStall.ts --churn [--draws 200] [--interval 1000] [--pad-mbit 1]
// --cleanup removes a sandbox a killed run left. SIGINT/SIGTERM stop after the current draw.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { Applier } from '../src/apply/applier';
import { SetSandbox, teardownSets } from '../src/demo/destinations';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { describeOperation } from '../src/plan/format';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { formatHandle } from '../src/tc/handle';
import { DIRECTIONS, type Direction } from '../src/tc/model';
import type { Operation } from '../src/tc/operation';
import { nativeProbe } from '../src/wiring/runtime';
import { clusterPeer, describeCase, drawCase, padded, parseSetCase, setJudgeOf, SETS, type Case } from '../test/support/destinations';
import { seededRandom } from '../test/support/randomTree';
import { exitUnlessRunnable, numberOption } from './args';

exitUnlessRunnable({
  name: 'liveApplyStall',
  usage: `bench/liveApplyStall: random set draws applied one over the other onto one live sandbox; prints stalls
  flock /run/sluice-dev.lock npx tsx bench/liveApplyStall.ts [options]   (builds namespaces and drives traffic: under the lock)
  --draws N      draws to apply (30)
  --seed N       first draw's seed (100)
  --seconds N    each draw's phase without --churn (3)
  --churn        every flow busy throughout, a draw applied every --interval ms
  --interval MS  with --churn (1000)
  --pad-mbit N   idle pods guaranteed N Mbit/s in each set (0)
  --cleanup      remove the sandbox a killed run left, and exit
  --help         this text`,
  numbers: ['--draws', '--seed', '--seconds', '--interval', '--pad-mbit'],
  switches: ['--churn', '--cleanup'],
});

const draws = numberOption('--draws', 30);
const firstSeed = numberOption('--seed', 100);
const seconds = numberOption('--seconds', 3);
const churn = process.argv.includes('--churn');
/** Idle pods of a draw guaranteed this much in each set (0: written with no rates, as the destinations test pads). */
const padMbit = numberOption('--pad-mbit', 0);
const intervalMs = numberOption('--interval', 1000);
const PREFIX = 'ls-';
const PODS = 3;
/** A busy flow below this over its phase is stalled (a starved one still gets its guarantee, ≥ 8). */
const STALLED_MBIT = 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const tc = (netns: string, args: string[]): string => execFileSync('ip', ['netns', 'exec', netns, 'tc', ...args], { encoding: 'utf8' });

interface ClassStats {
  readonly bytes: number;
  readonly backlog: number;
  readonly qlen: number;
}
/** Every class of a device by its handle, with its counters (tc 6.1's JSON of HTB classes is not JSON: the text). */
function classStats(netns: string, dev: string): Map<string, ClassStats> {
  const out = new Map<string, ClassStats>();
  for (const block of tc(netns, ['-s', 'class', 'show', 'dev', dev]).split(/^(?=class )/m)) {
    const handle = /^class \S+ (\S+)/.exec(block)?.[1];
    const bytes = /Sent (\d+) bytes/.exec(block)?.[1];
    const backlog = /backlog (\d+)b (\d+)p/.exec(block);
    if (handle && bytes && backlog) out.set(handle, { bytes: Number(bytes), backlog: Number(backlog[1]), qlen: Number(backlog[2]) });
  }
  return out;
}

function dumpDevice(netns: string, dev: string): string {
  return ['qdisc', 'class', 'filter'].map((what) => `--- tc -s -d ${what} show dev ${dev}\n${tc(netns, ['-s', '-d', what, 'show', 'dev', dev])}`).join('\n');
}

async function main(): Promise<void> {
  const kernel = new RtnlKernel();
  const deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  const seeds = Array.from({ length: draws }, (_, i) => firstSeed + i);
  const cases = seeds.map((seed) => ({ seed, c: drawCase(seededRandom(seed), seed), direction: (seed % 2 === 1 ? 'download' : 'upload') as Direction }));
  const site = clusterPeer(PREFIX);
  let policy = parseSetCase(padded(cases[0]!.c.set, PODS, padMbit), PREFIX);
  if (process.argv.includes('--cleanup')) {
    await teardownSets(deps, policy, site);
    // A run killed at a later draw had other pods than the first draw's: every namespace of this bench's prefix goes.
    removeNamespaces(`sl-${PREFIX}`);
    return;
  }
  let sandbox: SetSandbox | undefined;
  let stalls = 0;
  // Interrupted, the sandbox is still torn down (the load generators are children of this process).
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`${draws} draws from seed ${firstSeed}, ${churn ? `--churn, an apply every ${intervalMs} ms` : `${seconds} s each`}, idle pods guaranteed ${padMbit} Mbit/s; load ${load()}`);
  try {
    sandbox = await SetSandbox.open(deps, policy, site, { directions: DIRECTIONS });
    const { netns } = policy.host;
    const devOf = (d: Direction): string => (d === 'download' ? policy.host.bridge : policy.host.ifb);
    let previous: readonly Operation[] = [];
    if (churn) {
      stalls = await churnLoop(sandbox, cases.map((x) => x.c), netns, devOf, () => stopping);
    }
    for (const { seed, c, direction } of churn ? [] : cases) {
      if (stopping) break;
      const written = padded(c.set, PODS, padMbit);
      policy = parseSetCase(written, PREFIX);
      const ops = await sandbox.reapply(policy);
      const dev = devOf(direction);
      // The other direction's tree too: a download flow's ACKs go up through its class in the upload tree.
      const back = devOf(direction === 'download' ? 'upload' : 'download');
      const before = classStats(netns, dev);
      const beforeBack = classStats(netns, back);
      const { verdict, seen } = await sandbox.run({ direction, busy: c.busy }, setJudgeOf(written), { phaseSeconds: seconds, warmupSeconds: 1, snapshots: true });
      const after = classStats(netns, dev);
      const afterBack = classStats(netns, back);
      const compiled = sandbox.compiled;
      const classOf = (key: string, d: Direction = direction): string => {
        const [pod, set] = key.split('@');
        const k = compiled.peerSets!.findIndex((s) => s.name === set);
        const i = compiled.containers.findIndex((x) => x.name === pod);
        return formatHandle(compiled.peerSets![k]!.containers[i]![d].classid);
      };
      const stalled = c.busy.filter((k) => (seen!.measured.get(k) ?? 0) < STALLED_MBIT * 1e6);
      const kinds = ops.reduce((m, op) => m.set(`${op.op} ${op.object.type}`, (m.get(`${op.op} ${op.object.type}`) ?? 0) + 1), new Map<string, number>());
      console.log(`seed ${seed} ${direction} ${verdict.pass ? 'pass' : 'FAIL'} ops ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}; ${c.busy.map((k) => `${k} ${((seen!.measured.get(k) ?? 0) / 1e6).toFixed(1)}`).join(' ')}`);
      if (stalled.length === 0) {
        previous = ops;
        continue;
      }
      stalls++;
      console.log(`STALL seed ${seed} ${direction}: ${stalled.join(', ')} (load ${load()}) ${describeCase(c)}`);
      for (const k of stalled) {
        const h = classOf(k);
        const hb = classOf(k, direction === 'download' ? 'upload' : 'download');
        console.log(`  ${k} class ${h} on ${dev}: before ${JSON.stringify(before.get(h))} after ${JSON.stringify(after.get(h))}; its class ${hb} on ${back}: before ${JSON.stringify(beforeBack.get(hb))} after ${JSON.stringify(afterBack.get(hb))}`);
      }
      console.log(`  this draw's apply (${ops.length} operations):\n${ops.map((op) => `    ${describeOperation(op)}`).join('\n')}`);
      console.log(`  the draw before's apply (${previous.length} operations):\n${previous.map((op) => `    ${describeOperation(op)}`).join('\n')}`);
      console.log(dumpDevice(netns, dev));
      console.log(dumpDevice(netns, back));
      // Does it come back by itself? The stuck classes' counters over the next seconds, the flows still busy.
      sandbox.setBusy(direction, c.busy);
      for (const wait of [1, 2, 4, 8]) {
        await sleep(wait * 1000);
        const now = classStats(netns, dev);
        const nowBack = classStats(netns, back);
        console.log(`  +${wait} s: ${stalled.map((k) => `${k} ${JSON.stringify(now.get(classOf(k)))} back ${JSON.stringify(nowBack.get(classOf(k, direction === 'download' ? 'upload' : 'download')))}`).join(' ')}`);
      }
      sandbox.setBusy(direction, []);
      previous = ops;
    }
  } finally {
    await sandbox?.stop();
    await teardownSets(deps, policy, site).catch((e: unknown) => console.error(`teardown: ${String(e)}`));
  }
  console.log(`stalls: ${stalls} of ${draws} draws; load ${load()}`);
}

/** Only classes guaranteed at least this much (bit/s) count as stalled in --churn. */
const GUARANTEED = 1e6;
const ALL_FLOWS = Array.from({ length: PODS }, (_, i) => SETS.map((s) => `r${i}@${s}`)).flat();

/** The --churn loop: returns how many classes were found stuck. */
async function churnLoop(sandbox: SetSandbox, drawn: readonly Case[], netns: string, devOf: (d: Direction) => string, stopping: () => boolean): Promise<number> {
  for (const d of DIRECTIONS) sandbox.setBusy(d, ALL_FLOWS);
  await sleep(2000);
  let stalls = 0;
  let last = new Map(DIRECTIONS.map((d) => [d, classStats(netns, devOf(d))]));
  let previous: readonly Operation[] = [];
  for (const [n, c] of drawn.entries()) {
    if (stopping()) break;
    const policy = parseSetCase(padded(c.set, PODS, padMbit), PREFIX);
    const t0 = Date.now();
    const ops = await sandbox.reapply(policy);
    const applyMs = Date.now() - t0;
    await sleep(intervalMs);
    const compiled = sandbox.compiled;
    const stuck: string[] = [];
    for (const d of DIRECTIONS) {
      const now = classStats(netns, devOf(d));
      for (const [k, set] of compiled.peerSets!.entries()) {
        for (const [i, pod] of compiled.containers.entries()) {
          const h = formatHandle(set.containers[i]![d].classid);
          const a = last.get(d)!.get(h);
          const b = now.get(h);
          // A class without a guarantee in this draw may rightly send nothing (its siblings borrow first).
          if (set.containers[i]![d].guarantee < GUARANTEED) continue;
          if (a && b && b.qlen > 0 && b.bytes === a.bytes) stuck.push(`${d} ${pod.name}@${compiled.peerSets![k]!.name} ${h} ${JSON.stringify(b)}`);
        }
      }
      last.set(d, now);
    }
    if (n % 20 === 0) console.log(`apply ${n}: ${ops.length} operations in ${applyMs} ms; load ${load()}`);
    if (stuck.length === 0) {
      previous = ops;
      continue;
    }
    const first = stalls === 0;
    stalls += stuck.length;
    console.log(`STALL after apply ${n} (load ${load()}): ${stuck.join('; ')}`);
    // The first in full; the others' lines are enough to count them.
    if (!first) {
      last = new Map(DIRECTIONS.map((d) => [d, classStats(netns, devOf(d))]));
      previous = ops;
      continue;
    }
    console.log(`  this apply (${ops.length} operations):\n${ops.map((op) => `    ${describeOperation(op)}`).join('\n')}`);
    console.log(`  the apply before (${previous.length} operations):\n${previous.map((op) => `    ${describeOperation(op)}`).join('\n')}`);
    for (const d of DIRECTIONS) console.log(dumpDevice(netns, devOf(d)));
    for (const wait of [1, 2, 4]) {
      await sleep(wait * 1000);
      console.log(`  +${wait} s: ${DIRECTIONS.map((d) => [...classStats(netns, devOf(d))].map(([h, st]) => `${d[0]} ${h} ${st.bytes}/${st.qlen}p`).join(' ')).join(' | ')}`);
    }
    last = new Map(DIRECTIONS.map((d) => [d, classStats(netns, devOf(d))]));
    previous = ops;
  }
  for (const d of DIRECTIONS) sandbox.setBusy(d, []);
  return stalls;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/** Deletes every namespace whose name starts with `prefix` (this bench's own). */
function removeNamespaces(prefix: string): void {
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!);
  for (const ns of names.filter((n) => n.startsWith(prefix))) execFileSync('ip', ['netns', 'del', ns]);
}
