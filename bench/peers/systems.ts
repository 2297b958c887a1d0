// The three systems bench/peers compares, each built the same way, as a CNI runtime builds
// pods: a host namespace (the node) where the CNI `bridge` plugin (with `host-local`)
// makes bridge sl-br0 (198.18.0.1/24) and a veth per pod namespace (eth0, default route
// via the bridge), and a peer namespace routed through the host over a veth
// (198.18.255.0/30), standing for the world outside the node. Then, per system:
//  - none: nothing more; nothing shapes.
//  - bandwidth: the CNI `bandwidth` plugin chained after bridge (a TBF per pod on its host
//    veth, and IFB + TBF for its egress).
//  - sluice: the `sluice` plugin chained after bridge, with `sluice serve` running for a
//    Host whose bridge is the bridge plugin's (bench/peers/sluiceNode.ts): one HTB tree
//    per direction on that bridge.
// Both other systems get the link itself as one HTB class of the link's rate, on the
// bridge's egress (download) and the uplink's egress (upload): a NIC of that capacity
// with no per-pod control. Sluice's root classes are that link.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deleteNetns, listNetns } from '../../src/kernel/native';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import { asContainerdSends } from '../../test/support/containerd';
import { startSluiceNode, type SluiceNode } from './sluiceNode';
import { pluginRuns, wallMs } from './addPhases';
import { median } from '../stats';

export type SystemName = 'none' | 'bandwidth' | 'sluice';
export const SYSTEMS: readonly SystemName[] = ['none', 'bandwidth', 'sluice'];

export interface PodSpec {
  readonly name: string;
  readonly guarantee: BitsPerSec;
  /** Absent: the link (no ceiling asked for). */
  readonly ceiling?: BitsPerSec;
  readonly priority: number;
}

export interface Pod extends PodSpec {
  readonly netns: string;
  readonly address: string;
}

export interface Site {
  readonly system: SystemName;
  readonly host: string;
  readonly peer: string;
  readonly peerAddress: string;
  readonly pods: readonly Pod[];
  teardown(): Promise<void>;
}

export const CNI_BIN = '/usr/lib/cni';
export const CNI_VERSION = '1.0.0';
export const SUBNET = '198.18.0.0/24';
export const GATEWAY = '198.18.0.1';
const FIRST_POD_HOST = 10;
/** The conflist's network name (and the Sluice Host's `cni.network`). */
export const NETWORK = 'sl-bench';
export const PEER = { host: '198.18.255.1', peer: '198.18.255.2', prefix: 30 } as const;
export const BRIDGE = 'sl-br0';
/** The host end of the peer's veth: the node's NIC. */
export const UPLINK = 'sl-peer';
const IFB = 'sl-ifb0';
/** TBF needs a bucket above the largest (GSO) packet: 20 ms of the rate, at least 256 KiB. */
const BURST_SECONDS = 0.02;
const MIN_BURST_BITS = 256 * 1024 * 8;

const prefixOf = (system: SystemName): string => ({ none: 'sl-pn-', bandwidth: 'sl-pb-', sluice: 'sl-ps-' })[system];

/** The rate Kubernetes would give the plugin for this intent: the ceiling, or else the guarantee. */
export const pluginRate = (p: PodSpec): BitsPerSec => p.ceiling ?? p.guarantee;
const burstBits = (rate: number): number => Math.max(MIN_BURST_BITS, Math.round(rate * BURST_SECONDS));

export function run(cmd: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    // A command that exits without reading its stdin (most of them) must not fail the write.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`))));
    child.stdin.end(input ?? '');
  });
}

export const inNetns = (netns: string, cmd: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> =>
  run('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], input, env);

/** Every namespace a system of this bench made (also after a crash of an earlier run). */
export function removeNamespaces(system?: SystemName): void {
  const prefixes = system ? [prefixOf(system)] : SYSTEMS.map(prefixOf);
  for (const ns of listNetns()) if (prefixes.some((p) => ns.startsWith(p))) deleteNetns(ns);
}

// ------------------------------------------------------------------ the node and its ADD chain

/** A node of one system: host and peer namespaces, a scratch directory, and for Sluice its plugin and daemon. */
interface CniNode {
  readonly system: SystemName;
  readonly host: string;
  readonly peer: string;
  readonly dir: string;
  readonly sluice: SluiceNode | undefined;
  close(): Promise<void>;
}

/**
 * The node's namespace and the world behind its NIC: a peer namespace routed to the pods'
 * subnet through the host over a veth (UPLINK, at the kernel's default GSO/GRO sizes).
 */
export async function hostWithRoutedPeer(host: string, peer: string): Promise<void> {
  await run('ip', ['netns', 'add', host]);
  await run('ip', ['netns', 'add', peer]);
  await run('ip', ['-n', host, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', peer, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', host, 'link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
  await run('ip', ['-n', host, 'addr', 'add', `${PEER.host}/${PEER.prefix}`, 'dev', UPLINK]);
  await run('ip', ['-n', peer, 'addr', 'add', `${PEER.peer}/${PEER.prefix}`, 'dev', 'eth0']);
  await run('ip', ['-n', host, 'link', 'set', UPLINK, 'up']);
  await run('ip', ['-n', peer, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', peer, 'route', 'add', SUBNET, 'via', PEER.host]);
  await inNetns(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

async function cniNode(system: SystemName, capacity: BitsPerSec): Promise<CniNode> {
  const prefix = prefixOf(system);
  const host = `${prefix}host`;
  const peer = `${prefix}peer`;
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}cni-`));
  let sluice: SluiceNode | undefined;
  const close = async (): Promise<void> => {
    await sluice?.stop();
    removeNamespaces(system);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await hostWithRoutedPeer(host, peer);
    // As on a node, the daemon runs before the first pod (and before the bridge exists).
    if (system === 'sluice') sluice = await startSluiceNode({ host, bridge: BRIDGE, ifb: IFB, subnet: SUBNET, gateway: GATEWAY, network: NETWORK, capacity, dir });
    return { system, host, peer, dir, sluice, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The bridge plugin's network config (host-local IPAM from `dataDir`). */
export const bridgeConf = (dataDir: string): Record<string, unknown> => ({
  cniVersion: CNI_VERSION,
  name: NETWORK,
  type: 'bridge',
  bridge: BRIDGE,
  isGateway: true,
  ipMasq: false,
  ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, rangeStart: `198.18.0.${FIRST_POD_HOST}`, rangeEnd: '198.18.0.250', gateway: GATEWAY }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
});

/** A rate in tc units, as a pod annotation carries it. */
const tcRate = (bits: number): string => `${Math.round(bits / 1000)}kbit`;

/** The pod's guarantee and priority as Sluice's pod annotations. */
export function sluiceAnnotations(spec: PodSpec): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const dir of ['download', 'upload']) {
    annotations[`sluice.dev/${dir}-guarantee`] = tcRate(spec.guarantee);
    annotations[`sluice.dev/${dir}-priority`] = String(spec.priority);
  }
  return annotations;
}

/** A rate as the kubelet's kubernetes.io/ingress-bandwidth and egress-bandwidth annotations carry it (a quantity: "60M"). */
export const kubeletBandwidth = (rate: number): Record<string, string> => ({ 'kubernetes.io/ingress-bandwidth': `${Math.round(rate / 1e3)}k`, 'kubernetes.io/egress-bandwidth': `${Math.round(rate / 1e3)}k` });

/** What a runtime passes `sluice` for the pod: its ceiling as runtimeConfig.bandwidth (as containerd fills it), the rest as sluice.dev/ annotations. */
function sluiceRuntimeConfig(spec: PodSpec): Record<string, unknown> {
  const bandwidth = spec.ceiling ? { bandwidth: asContainerdSends({ ingressRate: spec.ceiling, egressRate: spec.ceiling }) } : {};
  return { ...bandwidth, 'io.kubernetes.cri.pod-annotations': sluiceAnnotations(spec) };
}

/** The plugin chained after bridge for this system, given the bridge's result; none for `none`. */
function chainedPlugin(node: CniNode, spec: PodSpec, prevResult: Record<string, unknown>): Record<string, unknown> | undefined {
  const common = { cniVersion: CNI_VERSION, name: NETWORK, prevResult };
  switch (node.system) {
    case 'none':
      return undefined;
    case 'bandwidth': {
      const rate = pluginRate(spec);
      const bandwidth = { ingressRate: rate, ingressBurst: burstBits(rate), egressRate: rate, egressBurst: burstBits(rate) };
      return { ...common, type: 'bandwidth', capabilities: { bandwidth: true }, runtimeConfig: { bandwidth } };
    }
    case 'sluice': {
      const capabilities = { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true };
      return { ...common, type: 'sluice', capabilities, stateDir: node.sluice!.stateDir, controlSocket: node.sluice!.controlSocket, runtimeConfig: sluiceRuntimeConfig(spec) };
    }
    default: {
      const never: never = node.system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

/** One plugin, as a runtime calls it: CNI_* in the environment, the config on stdin, run in the host namespace. */
async function callPlugin(node: CniNode, conf: Record<string, unknown>, podNetns: string, spec: PodSpec): Promise<Record<string, unknown>> {
  const cniPath = node.sluice ? `${CNI_BIN}:${node.sluice.binDir}` : CNI_BIN;
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: podNetns,
    CNI_NETNS: `/run/netns/${podNetns}`,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${spec.name}`,
    CNI_PATH: cniPath,
  };
  const type = String(conf.type);
  const exe = node.sluice && type === 'sluice' ? path.join(node.sluice.binDir, type) : path.join(CNI_BIN, type);
  const startedAt = wallMs();
  const out = await inNetns(node.host, exe, [], JSON.stringify(conf), env);
  if (type === 'sluice') pluginRuns.set(podNetns, { startedAt, endedAt: wallMs() });
  return JSON.parse(out) as Record<string, unknown>;
}

/**
 * The ADD chain for one pod: its namespace, bridge (+ host-local), then the system's
 * plugin with prevResult. Returns its address, when the chained plugin was started
 * (performance.now()) and how long it took.
 */
async function cniAdd(node: CniNode, podNetns: string, spec: PodSpec): Promise<{ address: string; chainedAt: number; chainedMs: number }> {
  await run('ip', ['netns', 'add', podNetns]);
  const result = await callPlugin(node, bridgeConf(path.join(node.dir, 'ipam')), podNetns, spec);
  const next = chainedPlugin(node, spec, result);
  const chainedAt = performance.now();
  if (next) await callPlugin(node, next, podNetns, spec);
  const chainedMs = performance.now() - chainedAt;
  const ips = result.ips as { address: string }[] | undefined;
  const address = ips?.[0]?.address.split('/')[0];
  if (!address) throw new Error(`bridge plugin gave ${podNetns} no address: ${JSON.stringify(result)}`);
  return { address, chainedAt, chainedMs };
}

/** The link: one HTB class of its rate on each way out of the host (what a NIC of that capacity is). */
async function linkBottleneck(host: string, capacity: BitsPerSec): Promise<void> {
  for (const dev of [BRIDGE, UPLINK]) {
    await run('tc', ['-n', host, 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1']);
    await run('tc', ['-n', host, 'class', 'replace', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${capacity}bit`, 'ceil', `${capacity}bit`]);
  }
}

export async function buildSystem(system: SystemName, specs: readonly PodSpec[], capacity: BitsPerSec): Promise<Site> {
  const prefix = prefixOf(system);
  const node = await cniNode(system, capacity);
  try {
    const pods: Pod[] = [];
    for (const [i, spec] of specs.entries()) pods.push({ ...spec, netns: `${prefix}${i}`, address: (await cniAdd(node, `${prefix}${i}`, spec)).address });
    if (node.sluice) await node.sluice.shaped(pods.map((p) => p.address));
    else await linkBottleneck(node.host, capacity);
    return { system, host: node.host, peer: node.peer, peerAddress: PEER.peer, pods, teardown: node.close };
  } catch (e) {
    await node.close();
    throw e;
  }
}

// ------------------------------------------------------------------ setup: the ADD chain

export interface SetupTimes {
  readonly pods: number;
  /** Bringing up `pods` pods from nothing, one ADD chain after the other. */
  readonly allMs: number;
  /** Of `allMs`, the plugin chained after bridge (bandwidth, sluice); undefined for none. */
  readonly chainedMs: number | undefined;
  /** From the first ADD until every one of those pods is shaped; undefined where nothing shapes. */
  readonly allShapedMs: number | undefined;
  /** One more pod's ADD chain with the others in place: the median of ONE_MORE pods, each on a settled node (oneAtATime). */
  readonly oneMs: number;
  /** Each of those pods' ADD chain, in order. */
  readonly oneSamplesMs: readonly number[];
  /** Of `oneMs`, the plugin chained after bridge (median); undefined for none. */
  readonly oneChainedMs: number | undefined;
  /** From that ADD's start until the pod is shaped (median); undefined where nothing shapes. */
  readonly oneShapedMs: number | undefined;
  /**
   * The shaping plugin's own part (median): from its start until the pod is shaped. The
   * bandwidth plugin's TBFs are made when it returns; Sluice's classes when a read that
   * starts after its return finds them. Undefined where nothing shapes.
   */
  readonly oneOwnMs: number | undefined;
  /** Sluice: one more pod's ADD chain with serve stopped (the native plugin execs the Node one). */
  readonly serveDownMs?: number;
}

/**
 * Before one more pod: longer than serve's tick after a burst of ADDs takes to start (250 ms
 * after the last, at most 1 s after the first) and to run at 100 pods (~0.3 s here).
 */
export const SETTLE_MS = 2000;
/** "One more pod" is this many pods, added one at a time; the rows print their median. */
export const ONE_MORE = 5;
/** Between those pods every system idles this long, after (Sluice) serve's tick after the pod has run. */
export const BETWEEN_MS = 500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A node that takes "one more pod" samples: `add` brings up its k-th; `settled` (Sluice) waits for serve's tick after a pod whose ADD started at `sinceMs`. */
export interface Sampled<T> {
  add(k: number): Promise<T>;
  settled?(sinceMs: number): Promise<void>;
}

/**
 * `count` pods added one at a time to each node, the nodes taking turns (sample k of every
 * node before sample k+1 of any): a burst of another process on this shared machine then
 * falls on every system alike, not on the one whose samples it met. Alike for every
 * system: SETTLE_MS before the first (after the bursts), BETWEEN_MS before each next one,
 * and before that the node that took the previous pod settles (Sluice: serve's tick after
 * it, which comes TICK_AFTER_CHANGE_MS after its change and takes longer as the node
 * fills), so no pod races the previous one's tick. Returns each node's samples in order.
 */
export async function oneAtATime<T>(count: number, nodes: readonly Sampled<T>[]): Promise<T[][]> {
  const out: T[][] = nodes.map(() => []);
  let previous: { node: Sampled<T>; startedAt: number } | undefined;
  for (let k = 0; k < count; k++) {
    for (const [i, node] of nodes.entries()) {
      if (previous) await previous.node.settled?.(previous.startedAt);
      await sleep(previous ? BETWEEN_MS : SETTLE_MS);
      previous = { node, startedAt: Date.now() };
      out[i]!.push(await node.add(k));
    }
  }
  return out;
}

/** A node of one system for the setup rows: up with its pods, sampled, then closed. */
export interface SampledNode<T> extends Sampled<T> {
  close(): Promise<void>;
}

/**
 * Each system's node brought up (one after another: their bursts are timed alone), then
 * ONE_MORE pods more on each, the nodes taking turns (oneAtATime); `summarise` makes each
 * system's row from its node and samples. Every node is closed, the last made first.
 */
export async function sampleSystems<T, N extends SampledNode<T>, R>(systems: readonly SystemName[], bringUp: (system: SystemName) => Promise<N>, summarise: (system: SystemName, node: N, samples: readonly T[]) => Promise<R>, log: (line: string) => void): Promise<Partial<Record<SystemName, R>>> {
  const nodes: N[] = [];
  try {
    for (const system of systems) nodes.push(await bringUp(system));
    log(`${ONE_MORE} pods more${nodes.length > 1 ? " on each node, the nodes taking turns" : ", one at a time"}`);
    const more = await oneAtATime(ONE_MORE, nodes);
    const out: Partial<Record<SystemName, R>> = {};
    for (const [i, system] of systems.entries()) out[system] = await summarise(system, nodes[i]!, more[i]!);
    return out;
  } finally {
    for (const node of [...nodes].reverse()) await node.close();
  }
}

export const setupSpec = (i: number): PodSpec => ({ name: `s${i}`, guarantee: bitsPerSec(1e5), ceiling: bitsPerSec(1e7), priority: i % 8 });

export interface OneMore {
  readonly chainMs: number;
  readonly chainedMs: number;
  readonly shapedMs: number;
  readonly ownMs: number;
}

/** A node with its `count` pods brought up (the burst timed), taking one more pod at a time. */
export interface SetupNode extends SampledNode<OneMore> {
  readonly burst: Pick<SetupTimes, 'pods' | 'allMs' | 'chainedMs' | 'allShapedMs'>;
  /** Sluice: serve stopped, one more pod's chain (the native plugin execs the Node one). */
  serveDown(): Promise<number | undefined>;
  /** Sluice: serve's log. */
  readonly serveLog?: string;
}

/** `count` pods brought up on a new node of `system`, which then takes up to `more` pods one at a time (and one with serve down). */
export async function bringUp(system: SystemName, count: number, capacity: BitsPerSec, more = ONE_MORE): Promise<SetupNode> {
  removeNamespaces(system);
  const prefix = prefixOf(system);
  const specs = Array.from({ length: count + more + 1 }, (_, i) => setupSpec(i));
  const node = await cniNode(system, capacity);
  try {
    const addresses: string[] = [];
    let chainedMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const added = await cniAdd(node, `${prefix}${i}`, specs[i]!);
      addresses.push(added.address);
      chainedMs += added.chainedMs;
    }
    const allMs = performance.now() - t0;
    const allShapedMs = (node.sluice ? await node.sluice.shaped(addresses, 120_000) : performance.now()) - t0;
    const shapes = system !== 'none';
    const sluice = node.sluice;
    return {
      burst: { pods: count, allMs, chainedMs: shapes ? chainedMs : undefined, allShapedMs: shapes ? allShapedMs : undefined },
      async add(k) {
        const t1 = performance.now();
        const added = await cniAdd(node, `${prefix}${count + k}`, specs[count + k]!);
        const chainMs = performance.now() - t1;
        const shapedAt = sluice ? await sluice.shaped([added.address]) : performance.now();
        return { chainMs, chainedMs: added.chainedMs, shapedMs: shapedAt - t1, ownMs: sluice ? shapedAt - added.chainedAt : added.chainedMs };
      },
      ...(sluice ? { settled: (since: number) => sluice.settled(since) } : {}),
      async serveDown() {
        if (!sluice) return undefined;
        await sluice.stopServe();
        const t2 = performance.now();
        await cniAdd(node, `${prefix}${count + more}`, specs[count + more]!);
        return performance.now() - t2;
      },
      close: node.close,
      ...(sluice ? { serveLog: sluice.serveLog } : {}),
    };
  } catch (e) {
    await node.close();
    throw e;
  }
}

/**
 * Each system's node alone: `count` pods brought up, then ONE_MORE pods more (oneAtATime),
 * then closed before the next system's. Not the nodes at once, as through containerd: a
 * Sluice node brought up beside the other systems' 200 pods took 1.4x as long for its 100
 * chains (12.8 s against 8.8-9.9 alone); their namespaces are sl- ones, which every read
 * of serve's lists (likely the cause, not traced further).
 * The bandwidth plugin's TBFs are in place when its ADD returns; Sluice's classes when a
 * read of the kernel that starts then finds them.
 */
export async function timeSetups(systems: readonly SystemName[], count: number, capacity: BitsPerSec, log: (line: string) => void): Promise<Partial<Record<SystemName, SetupTimes>>> {
  const out: Partial<Record<SystemName, SetupTimes>> = {};
  for (const system of systems) Object.assign(out, await timeAlone(system, count, capacity, log));
  return out;
}

function timeAlone(system: SystemName, count: number, capacity: BitsPerSec, log: (line: string) => void): Promise<Partial<Record<SystemName, SetupTimes>>> {
  const up = (s: SystemName): Promise<SetupNode> => {
    log(`${s}: bringing up ${count} pods, then ${ONE_MORE} more one at a time`);
    return bringUp(s, count, capacity);
  };
  return sampleSystems([system], up, async (_system, node, samples: readonly OneMore[]) => {
    const serveDownMs = await node.serveDown();
    const of = (f: (m: OneMore) => number): number | undefined => (system === 'none' ? undefined : median(samples.map(f)));
    return {
      ...node.burst,
      oneMs: median(samples.map((m) => m.chainMs)),
      oneSamplesMs: samples.map((m) => m.chainMs),
      oneChainedMs: of((m) => m.chainedMs),
      oneShapedMs: of((m) => m.shapedMs),
      oneOwnMs: of((m) => m.ownMs),
      ...(serveDownMs !== undefined ? { serveDownMs } : {}),
    };
  }, log);
}
