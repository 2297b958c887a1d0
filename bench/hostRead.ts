// bench/hostRead: one full read of a host-like namespace (dumpNamespace), as serve's tick
// makes after any change, at N pods: per pod a host veth end with an ingress qdisc and a
// filter redirecting to the IFB; a bridge and an IFB with an HTB each, a class and a filter
// per pod. Only `sl-` devices count, as in the host namespace. Prints the read's time
// (median, p90 of --reads) and its netlink exchanges and requests. --root reads with
// another checkout's code (its native addon built), to compare two branches side by side.
//   flock /run/sluice-dev.lock npx tsx bench/hostRead.ts [--pods 100] [--reads 50] [--root /work/main]

import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'hostRead',
  usage: `bench/hostRead: one full read of a host-like namespace at N pods (time, netlink exchanges)
  flock /run/sluice-dev.lock npx tsx bench/hostRead.ts [options]   (root; builds a namespace: under the lock)
  --pods N     pods (100)
  --reads N    reads timed (50)
  --root DIR   the checkout whose code reads (this one)
  --help       this text`,
  valued: ['--pods', '--reads', '--root'],
});

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
};
const PODS = Number(option('pods') ?? 100);
const READS = Number(option('reads') ?? 50);
const ROOT = resolve(option('root') ?? resolve(__dirname, '..'));
const NS = 'sl-hr-host';

const hex = (n: number): string => n.toString(16);

function build(): void {
  execFileSync('ip', ['netns', 'add', NS]);
  const ip: string[] = ['link add sl-hr-br type bridge', 'link set sl-hr-br up', 'link add sl-hr-ifb type ifb', 'link set sl-hr-ifb up'];
  const tc: string[] = [
    'qdisc add dev sl-hr-br root handle 1: htb default 2',
    'class add dev sl-hr-br parent 1: classid 1:1 htb rate 1gbit quantum 60000',
    'qdisc add dev sl-hr-ifb root handle 1: htb default 2',
    'class add dev sl-hr-ifb parent 1: classid 1:1 htb rate 1gbit quantum 60000',
  ];
  for (let i = 0; i < PODS; i++) {
    const classid = hex(i + 16);
    const address = `198.18.${1 + (i >> 8)}.${i & 255}`;
    ip.push(`link add sl-hr-v${i} type veth peer name hr-p${i}`, `link set sl-hr-v${i} master sl-hr-br up`, `link set hr-p${i} up`);
    tc.push(
      `qdisc add dev sl-hr-v${i} handle ffff: ingress`,
      `filter add dev sl-hr-v${i} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev sl-hr-ifb`,
      `class add dev sl-hr-br parent 1:1 classid 1:${classid} htb rate 1mbit ceil 1gbit`,
      `filter add dev sl-hr-br parent 1: protocol ip prio 1 u32 match ip dst ${address}/32 flowid 1:${classid}`,
      `class add dev sl-hr-ifb parent 1:1 classid 1:${classid} htb rate 1mbit ceil 1gbit`,
      `filter add dev sl-hr-ifb parent 1: protocol ip prio 1 u32 match ip src ${address}/32 flowid 1:${classid}`,
    );
  }
  execFileSync('ip', ['-n', NS, '-batch', '-'], { input: ip.join('\n') });
  execFileSync('ip', ['netns', 'exec', NS, 'tc', '-batch', '-'], { input: tc.join('\n') });
}

const percentile = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function main(): Promise<void> {
  const { nativeChannelFactory } = (await import(`${ROOT}/src/kernel/netlink/nativeChannel`)) as typeof import('../src/kernel/netlink/nativeChannel');
  const { NetnsSession } = (await import(`${ROOT}/src/kernel/rtnl/session`)) as typeof import('../src/kernel/rtnl/session');
  const { dumpNamespace } = (await import(`${ROOT}/src/kernel/rtnl/observe`)) as typeof import('../src/kernel/rtnl/observe');
  try {
    build();
    const channel = await nativeChannelFactory.open(NS);
    let exchanges = 0;
    let requests = 0;
    const session = new NetnsSession({
      netns: channel.netns,
      close: () => channel.close(),
      exchange(messages, seqs) {
        exchanges++;
        requests += messages.length;
        return channel.exchange(messages, seqs);
      },
    });
    const first = await dumpNamespace(NS, session, true, false);
    const perRead = { exchanges, requests };
    const times: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t0 = performance.now();
      await dumpNamespace(NS, session, true, false);
      times.push(performance.now() - t0);
    }
    session.close();
    console.log(
      `${ROOT}: ${PODS} pods (${first.ownedLinks.length} devices, ${first.qdiscs.length} qdiscs, ${first.classes.length} classes, ${first.filters.length} filters): ` +
        `a read ${percentile(times, 0.5).toFixed(1)} ms median, p90 ${percentile(times, 0.9).toFixed(1)}, min ${Math.min(...times).toFixed(1)} over ${READS}; ` +
        `${perRead.exchanges} exchanges, ${perRead.requests} requests; load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`,
    );
  } finally {
    // A build that failed half-way may have made no namespace: the error shown is the build's.
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      // None to delete.
    }
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
