// What bench/peers measures on one built site, per direction: guarantees and the
// priority-0 pod's share with every pod busy (iperf3, which also reports TCP
// retransmits), utilisation with half the pods idle (the project's load generator),
// and the RTT of a light flow to an idle pod while the others saturate.

import { spawn, type ChildProcess } from 'node:child_process';
import { TrafficRig } from '../../src/demo/traffic';
import { monotonicMs } from '../../src/loadgen/protocol';
import { goodputToWireRate } from '../../src/measure/overhead';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { inNetns, run, type Pod, type Site } from './systems';

export interface Timing {
  /** Seconds each phase runs. */
  readonly phaseS: number;
  /** Seconds at the start of a phase that are not measured. */
  readonly warmupS: number;
}

export interface DirectionResult {
  /** min over pods of measured / guarantee, all pods busy. */
  readonly guaranteeHeld: number;
  /** Each pod's measured L2 rate (bits/s), all pods busy. */
  readonly perPod: Readonly<Record<string, number>>;
  /** Σ rates / link with half the pods idle. */
  readonly utilisationIdle: number;
  /** The priority-0 pod's share of the link, all pods busy. */
  readonly priorityShare: number;
  readonly rttP50Ms: number;
  readonly rttP99Ms: number;
  readonly retransmits: number;
  readonly qdiscDrops: number;
}

const IPERF_PORT = 5201;

/** Drops of every qdisc in the host namespace (the link, the pods' TBFs, IFBs, Sluice's trees). */
async function qdiscDrops(host: string): Promise<number> {
  const out = await run('tc', ['-n', host, '-s', '-j', 'qdisc', 'show']);
  const qdiscs = JSON.parse(out) as { drops?: number }[];
  return qdiscs.reduce((sum, q) => sum + (q.drops ?? 0), 0);
}

/** Servers still running; killed however this process ends (an orphan would keep its namespace alive). */
const liveServers = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of liveServers) c.kill('SIGKILL');
});

export function spawnIn(netns: string, cmd: string, args: readonly string[]): ChildProcess {
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  liveServers.add(child);
  child.on('exit', () => liveServers.delete(child));
  return child;
}

interface IperfEnd {
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
}

/** Every pod busy in `dir` with iperf3; each pod's L2 rate, TCP retransmits, qdisc drops. */
async function allBusy(site: Site, dir: Direction, t: Timing): Promise<{ rates: Map<string, BitsPerSec>; retransmits: number; drops: number }> {
  const servers: ChildProcess[] = site.pods.map((p, i) =>
    dir === 'download' ? spawnIn(p.netns, 'iperf3', ['-s', '-1', '-B', p.address, '-p', String(IPERF_PORT)]) : spawnIn(site.peer, 'iperf3', ['-s', '-1', '-B', site.peerAddress, '-p', String(IPERF_PORT + 1 + i)]),
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const dropsBefore = await qdiscDrops(site.host);
    const clients = site.pods.map((p, i) => {
      const common = ['-J', '-t', String(t.phaseS), '-O', String(t.warmupS)];
      return dir === 'download'
        ? inNetns(site.peer, 'iperf3', ['-c', p.address, '-p', String(IPERF_PORT), ...common])
        : inNetns(p.netns, 'iperf3', ['-c', site.peerAddress, '-B', p.address, '-p', String(IPERF_PORT + 1 + i), ...common]);
    });
    const results = (await Promise.all(clients)).map((out) => JSON.parse(out) as IperfEnd);
    const drops = (await qdiscDrops(site.host)) - dropsBefore;
    const rates = new Map(site.pods.map((p, i) => [p.name, goodputToWireRate(bitsPerSec(results[i]!.end?.sum_received?.bits_per_second ?? 0))] as const));
    const retransmits = results.reduce((s, r) => s + (r.end?.sum_sent?.retransmits ?? 0), 0);
    return { rates, retransmits, drops };
  } finally {
    for (const s of servers) s.kill('SIGKILL');
  }
}

// A UDP echo in the idle pod and a prober in the peer: one 64-byte datagram every 20 ms,
// RTTs in microseconds on stdout, one per line.
const ECHO = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind((sys.argv[1],int(sys.argv[2])))
while True:
  d,a=s.recvfrom(2048);s.sendto(d,a)`;
const PROBE = `import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(1.0)
end=time.monotonic()+float(sys.argv[3]);out=[]
while time.monotonic()<end:
  t=time.monotonic_ns();s.sendto(t.to_bytes(8,'big')+bytes(56),(sys.argv[1],int(sys.argv[2])))
  try:
    d,_=s.recvfrom(2048)
    if int.from_bytes(d[:8],'big')==t: out.append((time.monotonic_ns()-t)//1000)
  except socket.timeout: out.append(1000000)
  time.sleep(0.02)
print("\\n".join(map(str,out)))`;

const percentile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
};

async function latency(site: Site, rig: TrafficRig, dir: Direction, idle: Pod, t: Timing): Promise<{ p50: number; p99: number }> {
  const echoPort = 7007;
  const echo = spawnIn(idle.netns, 'python3', ['-c', ECHO, idle.address, String(echoPort)]);
  try {
    rig.setActive(dir, site.pods.filter((p) => p !== idle).map((p) => p.name));
    await new Promise((resolve) => setTimeout(resolve, t.warmupS * 1000));
    const out = await inNetns(site.peer, 'python3', ['-c', PROBE, idle.address, String(echoPort), String(t.phaseS)]);
    const rtts = out.split('\n').filter(Boolean).map((l) => Number(l) / 1000);
    return { p50: percentile(rtts, 0.5), p99: percentile(rtts, 0.99) };
  } finally {
    rig.setActive(dir, []);
    echo.kill('SIGKILL');
  }
}

async function utilisationWithIdle(rig: TrafficRig, dir: Direction, busy: readonly Pod[], capacity: BitsPerSec, t: Timing): Promise<number> {
  const from = rig.setActive(dir, busy.map((p) => p.name));
  await new Promise((resolve) => setTimeout(resolve, (t.phaseS + t.warmupS) * 1000));
  const to = monotonicMs();
  const rates = rig.goodput(dir, from, to, t.warmupS * 1000);
  rig.setActive(dir, []);
  let total = 0;
  for (const p of busy) total += goodputToWireRate(rates.get(p.name) ?? bitsPerSec(0));
  return total / capacity;
}

export interface ScenarioPlan {
  readonly capacity: BitsPerSec;
  /** Pods that send in "some idle"; the others are idle. */
  readonly busyWhenHalfIdle: readonly string[];
  /** The idle pod the latency probe talks to. */
  readonly probeTarget: string;
  readonly timing: Timing;
  readonly directions: readonly Direction[];
}

export async function measureSite(site: Site, plan: ScenarioPlan): Promise<Record<Direction, DirectionResult | undefined>> {
  const out: Record<Direction, DirectionResult | undefined> = { download: undefined, upload: undefined };
  for (const dir of plan.directions) {
    const busy = await allBusy(site, dir, plan.timing);
    const rig = await TrafficRig.start({ peerNetns: site.peer, peerAddress: site.peerAddress, containers: site.pods.map((p) => ({ name: p.name, netns: p.netns, address: p.address })), directions: [dir] });
    try {
      const utilisationIdle = await utilisationWithIdle(rig, dir, site.pods.filter((p) => plan.busyWhenHalfIdle.includes(p.name)), plan.capacity, plan.timing);
      const rtt = await latency(site, rig, dir, site.pods.find((p) => p.name === plan.probeTarget)!, plan.timing);
      const perPod = Object.fromEntries(site.pods.map((p) => [p.name, Math.round(busy.rates.get(p.name) ?? 0)]));
      const top = site.pods.find((p) => p.priority === 0)!;
      out[dir] = {
        guaranteeHeld: Math.min(...site.pods.map((p) => (busy.rates.get(p.name) ?? 0) / p.guarantee)),
        perPod,
        utilisationIdle,
        priorityShare: (busy.rates.get(top.name) ?? 0) / plan.capacity,
        rttP50Ms: rtt.p50,
        rttP99Ms: rtt.p99,
        retransmits: busy.retransmits,
        qdiscDrops: busy.drops,
      };
    } finally {
      await rig.stop();
    }
  }
  return out;
}
