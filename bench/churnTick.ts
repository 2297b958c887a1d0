// bench/churnTick: where a churn tick's time goes. The churn test's shape (1,000 steady
// managed containers on one bridge, ticks that start 20 containers and stop the 20 of the
// tick before, the reconciler following the kernel's announcements) without its traffic,
// and per tick: the phases of the applier (observe, compile, ownership, diff, execute),
// within execute the addon's synchronous calls (namespace create/delete, namespace fds),
// the netlink round trips (requests and dumps, host namespace and containers'), and the
// plan's operations by kind. With --staged, every other tick's plan is executed kind by
// kind (one execute per kind, in plan order), so each kind's kernel time stands alone.
// Run as root, under the kernel lock:
//   npx tsx bench/churnTick.ts [--steady 1000] [--ticks 40] [--per-tick 20] [--staged]

import { Applier } from '../src/apply/applier';
import { createdObjects } from '../src/apply/ownership';
import { recordAhead } from '../src/apply/record';
import { CompileMemo } from '../src/compile';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { deleteNetns, listNetns } from '../src/kernel/native';
import type { NetlinkChannel, NetlinkChannelFactory } from '../src/kernel/netlink/channel';
import { nativeChannelFactory } from '../src/kernel/netlink/nativeChannel';
import type { HostOps } from '../src/kernel/rtnl/execute';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import type { ContainerPolicy, Policy } from '../src/policy/model';
import { systemClock } from '../src/ports/clock';
import { silentLogger } from '../src/ports/logger';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { Reconciler } from '../src/reconcile/reconciler';
import type { Operation, Plan } from '../src/tc/operation';
import { bitsPerSec } from '../src/units/units';
import { nativeProbe } from '../src/wiring/runtime';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'churnTick',
  usage: `bench/churnTick: where a churn tick's time goes (applier phases, addon calls, netlink round trips, operations by kind), no traffic
  flock /run/sluice-dev.lock npx tsx bench/churnTick.ts [options]   (root; builds namespaces: under the lock)
  --steady N         steady managed containers on the bridge (1000)
  --ticks N          ticks (40)
  --per-tick N       containers started and stopped per tick (20)
  --staged           every other tick's plan executed kind by kind
  --ns-deletes-last  every other tick, the plan's namespace deletions moved to its end (an experiment)
  --help             this text`,
  switches: ['--staged', '--ns-deletes-last'],
  valued: ['--steady', '--ticks', '--per-tick'],
});

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const STEADY = option('steady', 1000);
const TICKS = option('ticks', 40);
const PER_TICK = option('per-tick', 20);
const STAGED = process.argv.includes('--staged');
/** Every other tick, the plan with its namespace deletions moved to its end (an experiment). */
const DELETES_LAST = process.argv.includes('--ns-deletes-last');
const TICK_MS = 400;
const PREFIX = 'sl-ct-';
const HOST = `${PREFIX}host`;
const source = { file: 'churnTick', line: 1, column: 1 };

function container(name: string, address: string): ContainerPolicy {
  const direction = { guarantee: bitsPerSec(20e3), ceiling: bitsPerSec(100e6), priority: 7 };
  return { name, match: { kind: 'managed', netns: `${PREFIX}${name}` }, address, bandwidth: { download: direction, upload: direction }, source };
}
const steady = Array.from({ length: STEADY }, (_, i) => container(`s${i}`, `198.18.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`));
const churned = (k: number): ContainerPolicy => container(`c${k}`, `198.18.${10 + Math.floor((k % 1000) / 250)}.${2 + (k % 250)}`);
const policyWith = (containers: readonly ContainerPolicy[]): Policy => ({
  host: { name: 'churn-tick', mode: 'shared', netns: HOST, bridge: 'sl-br0', ifb: 'sl-ifb0', subnet: '198.18.0.0/16', gateway: '198.18.0.1', capacity: { download: bitsPerSec(100e6), upload: bitsPerSec(100e6) }, overcommit: 'reject', external: false, sources: [], source },
  containers,
  groups: [],
  schedules: [],
});

/** Milliseconds and counts per label, for the tick being measured. */
class Meter {
  ms = new Map<string, number>();
  n = new Map<string, number>();
  add(label: string, ms: number, n = 1): void {
    this.ms.set(label, (this.ms.get(label) ?? 0) + ms);
    this.n.set(label, (this.n.get(label) ?? 0) + n);
  }
  reset(): void {
    this.ms.clear();
    this.n.clear();
  }
}
const meter = new Meter();

function timedSync<A extends unknown[], R>(label: string, f: (...a: A) => R): (...a: A) => R {
  return (...a) => {
    const t = performance.now();
    try {
      return f(...a);
    } finally {
      meter.add(label, performance.now() - t);
    }
  };
}

/** Wraps a prototype method (private ones too: this is a bench) to time every call. */
function timeMethod(proto: object, name: string, label: string): void {
  const target = proto as Record<string, (...a: unknown[]) => unknown>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...a: unknown[]): unknown {
    const t = performance.now();
    const r = original.apply(this, a);
    if (r instanceof Promise) return r.finally(() => meter.add(label, performance.now() - t));
    meter.add(label, performance.now() - t);
    return r;
  };
}

const NLM_F_DUMP = 0x300;
/** Every exchange timed and counted: dumps or requests, the host namespace's or a container's. */
const countingFactory: NetlinkChannelFactory = {
  watch: (ns) => {
    const w = timedSync('watch open', nativeChannelFactory.watch!)(ns);
    return { changed: timedSync('watch drain', () => w.changed()), close: () => w.close() };
  },
  async open(ns) {
    const channel = await timedSync('socket open', (n: string) => nativeChannelFactory.open(n))(ns);
    const where = ns === HOST ? 'host' : 'container';
    return {
      netns: channel.netns,
      close: () => channel.close(),
      async exchange(messages, seqs) {
        const dump = (messages[0]!.readUInt16LE(6) & NLM_F_DUMP) === NLM_F_DUMP;
        const t = performance.now();
        const answers = await channel.exchange(messages, seqs);
        meter.add(`netlink ${dump ? 'dump' : 'request'} round trips, ${where}`, performance.now() - t);
        meter.add(`netlink ${dump ? 'dumps' : 'requests'} sent, ${where} (messages)`, 0, messages.length);
        return answers;
      },
    } satisfies NetlinkChannel;
  },
};

function instrument(): void {
  timeMethod(Applier.prototype, 'observe', 'observe');
  timeMethod(CompileMemo.prototype, 'compile', 'compile');
  timeMethod(Applier.prototype, 'ownershipView', 'ownership view');
  timeMethod(Applier.prototype, 'diff', 'diff');
  timeMethod(RtnlKernel.prototype, 'execute', 'execute');
  timeMethod(RtnlKernel.prototype, 'follow', '  observe: watch and namespace identity');
  timeMethod(RtnlKernel.prototype, 'read', '  observe: namespaces read (round trips, parsing)');
  timeMethod(Applier.prototype, 'remember', 'remember');
  const hostOps = (RtnlKernel.prototype as unknown as { hostOps: () => HostOps }).hostOps;
  (RtnlKernel.prototype as unknown as { hostOps: () => HostOps }).hostOps = function (this: RtnlKernel): HostOps {
    const ops = hostOps.call(this);
    return { ...ops, createNetns: timedSync('  namespace create (addon)', ops.createNetns), deleteNetns: timedSync('  namespace delete (addon)', ops.deleteNetns), openNetnsFd: timedSync('  namespace fd open (addon)', ops.openNetnsFd) };
  };
}

/** What an operation is, for the plan's composition and the staged execution. */
function kindOf(op: Operation): string {
  const o = op.object;
  const where = 'netns' in o ? (o.netns === HOST ? 'host' : 'container') : '';
  const fields = op.op === 'change' ? `(${op.fields.join(',')})` : '';
  const kind = o.type === 'link' ? `link ${o.spec.kind}` : o.type;
  return `${op.op} ${kind}${fields} ${where}`.trim();
}

async function executeStaged(kernel: RtnlKernel, store: MemoryOwnershipStore, policy: Policy, plan: Plan): Promise<void> {
  const base = { host: policy.host.name, hostNetns: policy.host.netns, external: [], transient: new Set<string>() };
  await store.write(recordAhead(await store.read(policy.host.name), base, createdObjects(plan)));
  const kinds = [...new Set(plan.map(kindOf))];
  for (const kind of kinds) {
    const ops = plan.filter((op) => kindOf(op) === kind);
    const t = performance.now();
    const r = await kernel.execute(ops);
    meter.add(`  staged: ${kind}`, performance.now() - t, ops.length);
    if (r.failed) throw r.failed.error;
  }
}

async function executeDeletesLast(kernel: RtnlKernel, store: MemoryOwnershipStore, policy: Policy, plan: Plan): Promise<void> {
  const base = { host: policy.host.name, hostNetns: policy.host.netns, external: [], transient: new Set<string>() };
  await store.write(recordAhead(await store.read(policy.host.name), base, createdObjects(plan)));
  const last = (op: Operation): boolean => op.object.type === 'namespace' && op.op === 'delete';
  const r = await kernel.execute([...plan.filter((op) => !last(op)), ...plan.filter(last)]);
  if (r.failed) throw r.failed.error;
}

function cleanup(): void {
  for (const ns of listNetns()) if (ns.startsWith(PREFIX)) deleteNetns(ns);
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  cleanup();
  instrument();
  const kernel = new RtnlKernel({ followChanges: true, factory: countingFactory });
  const store = new MemoryOwnershipStore();
  const probe = { exists: timedSync('  observe: namespace exists (probe)', nativeProbe.exists), readSysctl: timedSync('  observe: sysctl read (probe)', nativeProbe.readSysctl) };
  const applier = new Applier(kernel, store, probe, await detectFeatures());
  const reconciler = new Reconciler(applier, systemClock, silentLogger);
  try {
    const t0 = performance.now();
    reconciler.setPolicy(policyWith(steady));
    const first = await reconciler.tick();
    if (first.error) throw new Error(first.error.message);
    await reconciler.tick();
    console.log(`${STEADY} steady containers in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${TICKS} ticks of ${PER_TICK} starts and ${PER_TICK} stops${STAGED ? ', every other one staged' : ''}`);
    const perTick = new Map<string, number[]>();
    const counts = new Map<string, number[]>();
    const composition = new Map<string, number>();
    const ticks: number[] = [];
    const staged: number[] = [];
    let next = 0;
    let alive: number[] = [];
    for (let tick = 0; tick < TICKS; tick++) {
      alive = Array.from({ length: PER_TICK }, () => next++);
      const policy = policyWith([...steady, ...alive.map(churned)]);
      const stagedTick = (STAGED || DELETES_LAST) && tick % 2 === 1;
      meter.reset();
      const t = performance.now();
      if (stagedTick) {
        const planned = await applier.plan(policy, true);
        if (STAGED) await executeStaged(kernel, store, policy, planned.plan);
        else await executeDeletesLast(kernel, store, policy, planned.plan);
      } else {
        reconciler.setPolicy(policy);
        const r = await reconciler.tick();
        if (r.error) throw new Error(r.error.message);
      }
      const ms = performance.now() - t;
      // Paced as the churn test's ticks (2.5 a second): the kernel's cleanup of the namespaces
      // deleted runs in the gap, as there.
      if (ms < TICK_MS) await new Promise((resolve) => setTimeout(resolve, TICK_MS - ms));
      (stagedTick ? staged : ticks).push(ms);
      if (tick < 3) continue; // warm-up: V8 and the caches
      const tag = DELETES_LAST && stagedTick ? '[deletes last] ' : '';
      for (const [label, v] of meter.ms) perTick.set(tag + label, [...(perTick.get(tag + label) ?? []), v]);
      for (const [label, v] of meter.n) counts.set(tag + label, [...(counts.get(tag + label) ?? []), v]);
    }
    // One tick's plan, as the reconciler's next tick would see it, for the composition.
    const last = policyWith([...steady, ...Array.from({ length: PER_TICK }, (_, i) => churned(next + i))]);
    for (const op of (await applier.plan(last)).plan) composition.set(kindOf(op), (composition.get(kindOf(op)) ?? 0) + 1);
    console.log(`tick median ${median(ticks).toFixed(0)} ms (min ${Math.min(...ticks).toFixed(0)}, max ${Math.max(...ticks).toFixed(0)}) over ${ticks.length} ticks${staged.length ? `; staged ticks median ${median(staged).toFixed(0)} ms` : ''}`);
    console.log('per tick, median over the ticks after the first 3 (ms; calls or messages):');
    for (const [label, v] of [...perTick].sort((a, b) => median(b[1]) - median(a[1]))) console.log(`  ${label.padEnd(58)} ${median(v).toFixed(1).padStart(7)} ms  ${median(counts.get(label) ?? []).toFixed(0).padStart(5)}`);
    console.log('one tick\'s plan:');
    for (const [kind, n] of composition) console.log(`  ${kind.padEnd(58)} ${String(n).padStart(5)}`);
    console.log(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await applier.destroy('churn-tick').catch((e: unknown) => console.error(`destroy: ${(e as Error).message}`));
    await kernel.close();
    cleanup();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
