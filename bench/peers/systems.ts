// The three systems bench/peers compares, each wired the same way: a host namespace with a
// bridge (sl-br0, 198.18.0.1/24), one namespace per pod (eth0 on the bridge through a
// veth, default route via the bridge), and a peer namespace routed through the host over
// a veth (198.18.255.0/30), standing for the world outside the node.
//  - none: the CNI `bridge` plugin (with `host-local`) builds each pod; nothing shapes.
//  - bandwidth: the same chain followed by the CNI `bandwidth` plugin (a TBF per pod on
//    its host veth, and IFB + TBF for its egress), invoked as a runtime does.
//  - sluice: `apply` of a policy with the same pods; Sluice creates the namespaces,
//    veths and bridge itself, and its HTB trees.
// Both CNI systems get the link itself as one HTB class of the link's rate, on the
// bridge's egress (download) and the uplink's egress (upload): a NIC of that capacity
// with no per-pod control. Sluice's root classes are that link.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/wiring/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { deleteNetns, listNetns } from '../../src/kernel/native';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { ContainerPolicy, Policy } from '../../src/policy/model';
import { emptyKernelState, type KernelState } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';

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
const CNI_VERSION = '1.0.0';
const SUBNET = '198.18.0.0/24';
const GATEWAY = '198.18.0.1';
const FIRST_POD_HOST = 10;
const PEER = { host: '198.18.255.1', peer: '198.18.255.2', prefix: 30 } as const;
const BRIDGE = 'sl-br0';
const UPLINK = 'sl-peer';
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

// ------------------------------------------------------------------ CNI (none, bandwidth)

interface CniNetwork {
  readonly host: string;
  readonly dataDir: string;
  readonly withBandwidth: boolean;
}

const bridgeConf = (dataDir: string): Record<string, unknown> => ({
  cniVersion: CNI_VERSION,
  name: 'sl-bench',
  type: 'bridge',
  bridge: BRIDGE,
  isGateway: true,
  ipMasq: false,
  ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, rangeStart: `198.18.0.${FIRST_POD_HOST}`, rangeEnd: '198.18.0.250', gateway: GATEWAY }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
});

/** One plugin, as a runtime calls it: CNI_* in the environment, the config on stdin, run in the host namespace. */
async function callPlugin(net: CniNetwork, type: string, conf: Record<string, unknown>, podNetns: string): Promise<Record<string, unknown>> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: podNetns, CNI_NETNS: `/run/netns/${podNetns}`, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN };
  const out = await inNetns(net.host, path.join(CNI_BIN, type), [], JSON.stringify(conf), env);
  return JSON.parse(out) as Record<string, unknown>;
}

/** The ADD chain for one pod: namespace, bridge (+ host-local), then bandwidth with prevResult. Returns its address. */
async function cniAdd(net: CniNetwork, podNetns: string, spec: PodSpec): Promise<string> {
  await run('ip', ['netns', 'add', podNetns]);
  const result = await callPlugin(net, 'bridge', bridgeConf(net.dataDir), podNetns);
  if (net.withBandwidth) {
    const rate = pluginRate(spec);
    const bandwidth = { ingressRate: rate, ingressBurst: burstBits(rate), egressRate: rate, egressBurst: burstBits(rate) };
    await callPlugin(net, 'bandwidth', { cniVersion: CNI_VERSION, name: 'sl-bench', type: 'bandwidth', capabilities: { bandwidth: true }, runtimeConfig: { bandwidth }, prevResult: result }, podNetns);
  }
  const ips = result.ips as { address: string }[] | undefined;
  const address = ips?.[0]?.address.split('/')[0];
  if (!address) throw new Error(`bridge plugin gave ${podNetns} no address: ${JSON.stringify(result)}`);
  return address;
}

async function cniHost(system: SystemName): Promise<{ host: string; peer: string; net: CniNetwork }> {
  const prefix = prefixOf(system);
  const host = `${prefix}host`;
  const peer = `${prefix}peer`;
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
  return { host, peer, net: { host, dataDir: mkdtempSync(path.join(tmpdir(), `${prefix}ipam-`)), withBandwidth: system === 'bandwidth' } };
}

/** The link: one HTB class of its rate on each way out of the host (what a NIC of that capacity is). */
async function linkBottleneck(host: string, capacity: BitsPerSec): Promise<void> {
  for (const dev of [BRIDGE, UPLINK]) {
    await run('tc', ['-n', host, 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1']);
    await run('tc', ['-n', host, 'class', 'replace', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${capacity}bit`, 'ceil', `${capacity}bit`]);
  }
}

async function buildCni(system: 'none' | 'bandwidth', specs: readonly PodSpec[], capacity: BitsPerSec): Promise<Site> {
  const prefix = prefixOf(system);
  const { host, peer, net } = await cniHost(system);
  const teardown = async (): Promise<void> => {
    removeNamespaces(system);
    rmSync(net.dataDir, { recursive: true, force: true });
  };
  try {
    const pods: Pod[] = [];
    for (const [i, spec] of specs.entries()) pods.push({ ...spec, netns: `${prefix}${i}`, address: await cniAdd(net, `${prefix}${i}`, spec) });
    await linkBottleneck(host, capacity);
    return { system, host, peer, peerAddress: PEER.peer, pods, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

// ------------------------------------------------------------------ Sluice

export function sluicePolicy(specs: readonly PodSpec[], capacity: BitsPerSec): Policy {
  const prefix = prefixOf('sluice');
  const source = { file: 'bench/peers', line: 1, column: 1 };
  const containers: ContainerPolicy[] = specs.map((p, i) => {
    const dir = { guarantee: p.guarantee, ceiling: p.ceiling ?? capacity, priority: p.priority };
    return { name: p.name, match: { kind: 'managed', netns: `${prefix}${i}` }, address: `198.18.0.${FIRST_POD_HOST + i}`, bandwidth: { download: dir, upload: dir }, source };
  });
  return {
    host: { name: 'peers', mode: 'shared', netns: `${prefix}host`, bridge: BRIDGE, ifb: 'sl-ifb0', subnet: SUBNET, gateway: GATEWAY, capacity: { download: capacity, upload: capacity }, overcommit: 'reject', external: false, sources: [], source },
    containers,
    schedules: [],
  };
}

/** The same peer as the CNI systems', as kernel objects Sluice owns (so its apply keeps them). */
function peerState(host: string, peer: string): KernelState {
  return {
    ...emptyKernelState(),
    namespaces: [{ type: 'namespace', name: peer }],
    links: [
      { type: 'link', netns: host, name: UPLINK, up: true, spec: { kind: 'veth', peerName: 'eth0', peerNetns: peer } },
      { type: 'link', netns: peer, name: 'eth0', up: true, spec: { kind: 'veth', peerName: UPLINK, peerNetns: host } },
      { type: 'link', netns: peer, name: 'lo', up: true, spec: { kind: 'external' } },
    ],
    addresses: [
      { type: 'address', netns: host, dev: UPLINK, cidr: `${PEER.host}/${PEER.prefix}` },
      { type: 'address', netns: peer, dev: 'eth0', cidr: `${PEER.peer}/${PEER.prefix}` },
    ],
    routes: [{ type: 'route', netns: peer, dst: SUBNET, via: PEER.host, dev: 'eth0' }],
  };
}

export interface SluiceHandle {
  readonly applier: Applier;
  close(): Promise<void>;
}

export async function openSluice(): Promise<SluiceHandle> {
  const kernel = new RtnlKernel();
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  return { applier, close: () => kernel.close() };
}

async function buildSluice(specs: readonly PodSpec[], capacity: BitsPerSec): Promise<Site> {
  const policy = sluicePolicy(specs, capacity);
  const sluice = await openSluice();
  const peer = `${prefixOf('sluice')}peer`;
  const teardown = async (): Promise<void> => {
    await sluice.applier.destroy(policy.host.name, policy).catch(() => undefined);
    await sluice.close();
    removeNamespaces('sluice');
  };
  try {
    const applied = await sluice.applier.apply(policy);
    if (applied.report.failed) throw applied.report.failed.error;
    const wired = await sluice.applier.ensure(peerState(policy.host.netns, peer), [policy.host.netns, peer]);
    if (wired.report.failed) throw wired.report.failed.error;
    const pods = specs.map((s, i) => ({ ...s, netns: `${prefixOf('sluice')}${i}`, address: policy.containers[i]!.address! }));
    return { system: 'sluice', host: policy.host.netns, peer, peerAddress: PEER.peer, pods, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

export function buildSystem(system: SystemName, specs: readonly PodSpec[], capacity: BitsPerSec): Promise<Site> {
  switch (system) {
    case 'none':
    case 'bandwidth':
      return buildCni(system, specs, capacity);
    case 'sluice':
      return buildSluice(specs, capacity);
    default: {
      const never: never = system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

// ------------------------------------------------------------------ setup: the ADD chain

export interface SetupTimes {
  readonly pods: number;
  /** Bringing up `pods` pods from nothing, one after the other. */
  readonly allMs: number;
  /** One more pod's ADD with the others in place. */
  readonly oneMs: number;
}

const setupSpec = (i: number): PodSpec => ({ name: `s${i}`, guarantee: bitsPerSec(1e5), ceiling: bitsPerSec(1e7), priority: i % 8 });

export async function timeSetup(system: SystemName, count: number, capacity: BitsPerSec): Promise<SetupTimes> {
  removeNamespaces(system);
  const specs = Array.from({ length: count + 1 }, (_, i) => setupSpec(i));
  if (system === 'sluice') {
    const sluice = await openSluice();
    const all = sluicePolicy(specs.slice(0, count), capacity);
    const more = sluicePolicy(specs, capacity);
    try {
      const t0 = performance.now();
      const a = await sluice.applier.apply(all);
      const allMs = performance.now() - t0;
      if (a.report.failed) throw a.report.failed.error;
      const t1 = performance.now();
      const b = await sluice.applier.apply(more);
      const oneMs = performance.now() - t1;
      if (b.report.failed) throw b.report.failed.error;
      await sluice.applier.destroy(more.host.name, more);
      return { pods: count, allMs, oneMs };
    } finally {
      await sluice.close();
      removeNamespaces('sluice');
    }
  }
  const prefix = prefixOf(system);
  const { net } = await cniHost(system);
  try {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await cniAdd(net, `${prefix}${i}`, specs[i]!);
    const allMs = performance.now() - t0;
    const t1 = performance.now();
    await cniAdd(net, `${prefix}${count}`, specs[count]!);
    return { pods: count, allMs, oneMs: performance.now() - t1 };
  } finally {
    removeNamespaces(system);
    rmSync(net.dataDir, { recursive: true, force: true });
  }
}
