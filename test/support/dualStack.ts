// Dual-stack kernel tests: a sandbox whose containers have IPv4 and IPv6 addresses, and
// TCP flows over either family between the containers and the routed peer, judged per
// container (all its flows together) against the oracle, as the demo judges.
import { spawn } from 'node:child_process';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import type { CompiledPolicy } from '../../src/compile';
import { buildSandbox, teardownDemo, type DemoDeps } from '../../src/demo/run';
import { PEER_LINK, PEER_LINK6, PEER_NETNS } from '../../src/demo/peer';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type LoadgenChild } from '../../src/loadgen/driver';
import { monotonicMs } from '../../src/loadgen/protocol';
import { ETHERNET_IPV4_TCP_TIMESTAMPS, ETHERNET_IPV6_TCP_TIMESTAMPS, goodputToWireRate, steadyRate, wireRateToGoodput } from '../../src/measure';
import type { Judge } from '../../src/measure/judge';
import { judgeAllocation, type Verdict } from '../../src/measure/verdict';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { sh } from './kernel';
import { judgeOf, writtenFromYaml } from './written';

export const SUBNET6 = '2001:2::/64';

export interface DualStackContainer {
  readonly name: string;
  /** The last octet of its IPv4 address in 198.18.0.0/24 (and so of its IPv6 address). */
  readonly octet: number;
  /** The YAML of one direction, used for both: "{ guarantee: 20mbit, ceiling: 50mbit, priority: 1 }". */
  readonly rates: string;
}

/** A dual-stack test's policy, and the judge of its text as written. */
export interface DualStackPolicy {
  readonly policy: Policy;
  readonly judge: Judge;
}

/** A 100 mbit/s dual-stack Host (subnet6 2001:2::/64) and its managed containers, in sl-<prefix>… namespaces. */
export function dualStackPolicy(prefix: string, containers: readonly DualStackContainer[]): DualStackPolicy {
  const host = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: ${prefix}v6 }
spec:
  netns: sl-${prefix}host
  bridge: sl-${prefix}br
  ifb: sl-${prefix}ifb
  subnet: 198.18.0.0/24
  subnet6: ${SUBNET6}
  capacity: { download: 100mbit, upload: 100mbit }
`;
  const docs = containers.map(
    (c) => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${c.name} }
spec:
  match: { managed: sl-${prefix}${c.name} }
  address: 198.18.0.${c.octet}
  download: ${c.rates}
  upload: ${c.rates}
`,
  );
  const text = host + docs.join('');
  const r = parsePolicyTexts([{ path: `${prefix}v6.yaml`, text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return { policy: r.policy, judge: judgeOf(writtenFromYaml(text)) };
}

export async function openSandbox(policy: Policy): Promise<{ deps: DemoDeps; kernel: RtnlKernel; compiled: CompiledPolicy }> {
  const kernel = new RtnlKernel();
  const deps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  const compiled = await buildSandbox(deps, policy, () => undefined);
  return { deps, kernel, compiled };
}

export async function closeSandbox(deps: DemoDeps | undefined, kernel: RtnlKernel | undefined, policy: Policy): Promise<void> {
  if (deps) await teardownDemo(deps, policy).catch(() => undefined);
  await kernel?.close();
}

/** One TCP flow of a container over one family. */
export interface Flow {
  readonly container: string;
  readonly family: 4 | 6;
}

const BASE_PORT = 5401;

/**
 * Runs `flows` in `direction` for `seconds` and judges each container (its flows summed)
 * against `judge` (the policy text as written) with every listed container busy, within
 * `tolerance` of the link; the containers not listed are left out of the verdict.
 * Goodput is turned into the bits HTB counts per family (IPv6 carries 20 bytes less
 * payload per frame), then back into IPv4 goodput, the geometry the verdict assumes.
 */
export async function judgeFlows(judge: Judge, compiled: CompiledPolicy, direction: Direction, flows: readonly Flow[], seconds: number, tolerance: number): Promise<Verdict> {
  const children: LoadgenChild[] = [];
  const measuredBy: { flow: Flow; id: string; receiver: LoadgenChild }[] = [];
  try {
    for (const [i, flow] of flows.entries()) {
      const c = compiled.containers.find((x) => x.name === flow.container);
      if (!c?.netns || !c.address || !c.address6) throw new Error(`container ${flow.container} has no dual-stack namespace`);
      const own = flow.family === 6 ? c.address6 : c.address;
      const peer = flow.family === 6 ? PEER_LINK6.peer : PEER_LINK.peer;
      const id = `${direction}.${flow.container}.v${flow.family}.${i}`;
      const port = BASE_PORT + i;
      const [serverNs, serverHost, senderNs, bind] = direction === 'download' ? [c.netns, own, PEER_NETNS, undefined] : [PEER_NETNS, peer, c.netns, own];
      const receiver = await startLoadgenServer({ netns: serverNs, listen: { host: serverHost, port } });
      children.push(receiver);
      children.push(await startLoadgenSender({ netns: senderNs, to: { host: serverHost, port }, id, ...(bind ? { bind } : {}) }));
      measuredBy.push({ flow, id, receiver });
    }
    const from = monotonicMs();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const to = monotonicMs();
    const wire = new Map<string, number>();
    for (const m of measuredBy) {
      const goodput = steadyRate(m.receiver.samples(m.id), { fromMs: from, toMs: to, warmupMs: 1500 });
      const geometry = m.flow.family === 6 ? ETHERNET_IPV6_TCP_TIMESTAMPS : ETHERNET_IPV4_TCP_TIMESTAMPS;
      wire.set(m.flow.container, (wire.get(m.flow.container) ?? 0) + goodputToWireRate(goodput, geometry));
    }
    const active = [...new Set(flows.map((f) => f.container))];
    const { capacity, containers, ideal } = judge.expect(direction, active);
    const measuredGoodput = new Map<string, BitsPerSec>([...wire].map(([name, w]) => [name, wireRateToGoodput(bitsPerSec(w))]));
    return judgeAllocation({ capacity, containers: containers.filter((x) => active.includes(x.id)), measuredGoodput, tolerance: { perContainerOfCapacity: tolerance, minUtilisation: 0.95 } }, () => ideal);
  } finally {
    await Promise.all(children.map((c) => c.stop(500).catch(() => null)));
    killAllLoadgens();
  }
}

/**
 * iperf3 -6 from `clientNs` to a server on `serverAddress` in `serverNs`, as an independent
 * meter: the receiver's goodput in bit/s over `seconds` after `omitS` of slow start.
 */
export async function iperf3Goodput6(serverNs: string, serverAddress: string, clientNs: string, seconds: number, omitS: number): Promise<number> {
  const port = '5209';
  const server = spawn('nsenter', [`--net=/run/netns/${serverNs}`, 'iperf3', '-6', '-s', '-1', '--forceflush', '-B', serverAddress, '-p', port], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('iperf3 -6 -s did not start listening within 5 s')), 5000);
      server.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`iperf3 -6 -s exited with ${code}`)));
    });
    const text = await sh('nsenter', [`--net=/run/netns/${clientNs}`, 'iperf3', '-6', '-c', serverAddress, '-p', port, '-t', String(seconds + omitS), '-O', String(omitS), '-J']);
    const bps = (JSON.parse(text) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new Error(`iperf3 -6 reported no sum_received: ${text.slice(0, 200)}`);
    return bps;
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}
