// The node bench/datapath measures: a host namespace whose bridge the CNI `bridge` plugin
// (with `host-local`) makes, as a runtime's ADD chain does, with one veth per container at
// the kernel's default GSO/GRO sizes; a peer namespace routed through the host over a veth
// that stands for the NIC and the world behind it. Built once per container count, then
// each system shapes it in turn and leaves it as it found it:
//  - none: nothing shapes;
//  - bandwidth: the reference CNI `bandwidth` plugin chained after bridge (a TBF on each
//    host veth for download, an IFB with a TBF per container for upload), ADD then DEL;
//  - sluice: `apply` of a Host with `external: true` on that bridge, containers matched by
//    address, then `destroy`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Applier } from '../../src/apply/applier';
import { deleteNetns, listNetns } from '../../src/kernel/native';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import type { BitsPerSec } from '../../src/units/units';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { BRIDGE, bridgeConf, CNI_BIN, CNI_VERSION, GATEWAY, hostWithRoutedPeer, inNetns, NETWORK, run, SUBNET, UPLINK } from '../peers/systems';

const PREFIX = 'sl-dp-';
export const HOST_NETNS = `${PREFIX}host`;
export const PEER_NETNS = `${PREFIX}peer`;
const IFB = 'sl-ifb0';

export interface Container {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  /** Its veth's end on the bridge. */
  readonly hostVeth: string;
  /** The bridge plugin's ADD result, the prevResult of a plugin chained after it. */
  readonly bridgeResult: Record<string, unknown>;
}

export interface Node {
  readonly containers: readonly Container[];
  readonly dataDir: string;
}

/** Every namespace this bench made (also those of a run that crashed). */
export function removeNamespaces(): void {
  for (const ns of listNetns()) if (ns.startsWith(PREFIX)) deleteNetns(ns);
}

const cniEnv = (command: 'ADD' | 'DEL', netns: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  CNI_COMMAND: command,
  CNI_CONTAINERID: netns,
  CNI_NETNS: `/run/netns/${netns}`,
  CNI_IFNAME: 'eth0',
  CNI_PATH: CNI_BIN,
});

/** One plugin as a runtime calls it, in the host namespace; its JSON result (none for DEL). */
async function callPlugin(command: 'ADD' | 'DEL', conf: Record<string, unknown>, netns: string): Promise<Record<string, unknown>> {
  const out = await inNetns(HOST_NETNS, path.join(CNI_BIN, String(conf.type)), [], JSON.stringify(conf), cniEnv(command, netns));
  return command === 'ADD' ? (JSON.parse(out) as Record<string, unknown>) : {};
}

/** The host-side veth in a bridge plugin result: the interface with a MAC and no sandbox that is not the bridge. */
function hostVethOf(result: Record<string, unknown>): string {
  const ifaces = (result.interfaces ?? []) as { name: string; sandbox?: string }[];
  const veth = ifaces.find((i) => !i.sandbox && i.name !== BRIDGE);
  if (!veth) throw new Error(`bridge plugin result names no host veth: ${JSON.stringify(result)}`);
  return veth.name;
}

export async function buildNode(count: number): Promise<Node> {
  removeNamespaces();
  const dataDir = mkdtempSync(path.join(tmpdir(), `${PREFIX}cni-`));
  try {
    await hostWithRoutedPeer(HOST_NETNS, PEER_NETNS);
    const containers: Container[] = [];
    for (let i = 0; i < count; i++) {
      const netns = `${PREFIX}${i}`;
      await run('ip', ['netns', 'add', netns]);
      const result = await callPlugin('ADD', bridgeConf(dataDir), netns);
      const address = ((result.ips ?? []) as { address: string }[])[0]?.address.split('/')[0];
      if (!address) throw new Error(`bridge plugin gave ${netns} no address: ${JSON.stringify(result)}`);
      containers.push({ name: `c${i}`, netns, address, hostVeth: hostVethOf(result), bridgeResult: result });
    }
    return { containers, dataDir };
  } catch (e) {
    removeNamespaces();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

export function removeNode(node: Node): void {
  removeNamespaces();
  rmSync(node.dataDir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ the systems

/** What shapes the node while a measurement runs; detach() leaves the node as attach() found it. */
export interface Shaper {
  detach(): Promise<void>;
}

/**
 * The `bandwidth` plugin at `rateOf(container)` for every container, both ways. Its burst
 * is 2 ms of the rate, at least 256 KiB: TBF needs a bucket above the largest (GSO)
 * packet. Its DEL removes only the IFB it made; the TBF and the ingress redirect on the
 * host veth go with the veth when a runtime deletes the pod, so here they are deleted by hand.
 */
export async function attachBandwidthPlugin(node: Node, rateOf: (c: Container) => BitsPerSec): Promise<Shaper> {
  const conf = (c: Container): Record<string, unknown> => {
    const rate = Math.round(rateOf(c));
    const burst = Math.max(256 * 1024 * 8, Math.round(rate * 0.002));
    return {
      cniVersion: CNI_VERSION,
      name: NETWORK,
      type: 'bandwidth',
      capabilities: { bandwidth: true },
      runtimeConfig: { bandwidth: { ingressRate: rate, ingressBurst: burst, egressRate: rate, egressBurst: burst } },
      prevResult: c.bridgeResult,
    };
  };
  const added: Container[] = [];
  const detach = async (): Promise<void> => {
    for (const c of added) {
      await callPlugin('DEL', conf(c), c.netns);
      await run('tc', ['-n', HOST_NETNS, 'qdisc', 'del', 'dev', c.hostVeth, 'root']).catch(() => undefined);
      await run('tc', ['-n', HOST_NETNS, 'qdisc', 'del', 'dev', c.hostVeth, 'ingress']).catch(() => undefined);
    }
  };
  return attached(async () => {
    for (const c of node.containers) {
      added.push(c);
      await callPlugin('ADD', conf(c), c.netns);
    }
  }, detach);
}

/** `attach`, or on its failure whatever it got done undone. */
async function attached(attach: () => Promise<void>, detach: () => Promise<void>): Promise<Shaper> {
  try {
    await attach();
  } catch (e) {
    await detach().catch(() => undefined);
    throw e;
  }
  return { detach };
}

export interface SluiceContainer {
  readonly container: Container;
  readonly guarantee: BitsPerSec;
  readonly priority: number;
}

/** The Host and its containers as an operator writes them: the CNI plugin's bridge, external; each container by address. */
export function sluicePolicy(capacity: BitsPerSec, containers: readonly SluiceContainer[]): Policy {
  const kbit = (r: number): string => `${Math.round(r / 1000)}kbit`;
  const docs = [
    `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: dp }
spec: { netns: ${HOST_NETNS}, bridge: ${BRIDGE}, ifb: ${IFB}, subnet: ${SUBNET}, gateway: ${GATEWAY}, external: true, capacity: { download: ${kbit(capacity)}, upload: ${kbit(capacity)} } }
`,
    ...containers.map(
      (s) => `apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${s.container.name} }
spec:
  match: { ip: ${s.container.address} }
  download: { guarantee: ${kbit(s.guarantee)}, priority: ${s.priority} }
  upload: { guarantee: ${kbit(s.guarantee)}, priority: ${s.priority} }
`,
    ),
  ];
  const parsed = parsePolicyTexts([{ path: 'datapath.yaml', text: docs.join('---\n') }]);
  if (!parsed.ok) throw new Error(`bench policy invalid: ${parsed.issues.slice(0, 3).map((i) => i.message).join('; ')}`);
  return parsed.policy;
}

export async function attachSluice(policy: Policy): Promise<Shaper> {
  const kernel = new RtnlKernel();
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  const detach = async (): Promise<void> => {
    try {
      const destroyed = await applier.destroy(policy.host.name, policy);
      if (destroyed.report.failed) throw destroyed.report.failed.error;
    } finally {
      await kernel.close();
    }
  };
  return attached(async () => {
    const applied = await applier.apply(policy, false);
    if (applied.report.failed) throw applied.report.failed.error;
  }, detach);
}

// ------------------------------------------------------------------ what a system must not change

/** A device's size limits and offloads, as its owner set them. */
export interface DeviceSettings {
  readonly dev: string;
  readonly sizes: string;
  readonly offloads: string;
}

/** The settings a shaper must leave alone: the bridge's, the NIC's (uplink) and every host veth's. */
export async function deviceSettings(node: Node): Promise<DeviceSettings[]> {
  const devs = [BRIDGE, UPLINK, ...node.containers.map((c) => c.hostVeth)];
  const details = JSON.parse(await run('ip', ['-n', HOST_NETNS, '-d', '-j', 'link', 'show'])) as Record<string, unknown>[];
  const out: DeviceSettings[] = [];
  for (const dev of devs) {
    const d = details.find((l) => l.ifname === dev);
    if (!d) throw new Error(`${dev} is missing from ${HOST_NETNS}`);
    const sizes = ['gso_max_size', 'gso_max_segs', 'gro_max_size', 'tso_max_size', 'gso_ipv4_max_size', 'gro_ipv4_max_size'].map((k) => `${k} ${String(d[k])}`).join(', ');
    const offloads = (await inNetns(HOST_NETNS, 'ethtool', ['-k', dev])).split('\n').filter((l) => /: (on|off)/.test(l)).map((l) => l.trim()).join('; ');
    out.push({ dev, sizes, offloads });
  }
  return out;
}

/** What differs between two readings, one line per device and kind. */
export function settingsChanged(before: readonly DeviceSettings[], after: readonly DeviceSettings[]): string[] {
  const out: string[] = [];
  for (const b of before) {
    const a = after.find((x) => x.dev === b.dev);
    if (!a) out.push(`${b.dev}: gone`);
    else {
      if (a.sizes !== b.sizes) out.push(`${b.dev}: ${b.sizes} → ${a.sizes}`);
      if (a.offloads !== b.offloads) out.push(`${b.dev}: offloads changed`);
    }
  }
  return out;
}

/** Puts back the GSO/GRO sizes a shaper left changed, so the systems after it are measured on the same node. */
export async function restoreSizes(before: readonly DeviceSettings[]): Promise<void> {
  for (const b of before) {
    const gso = /gso_max_size (\d+)/.exec(b.sizes)?.[1];
    const gro = /gro_max_size (\d+)/.exec(b.sizes)?.[1];
    if (gso && gro) await run('ip', ['-n', HOST_NETNS, 'link', 'set', b.dev, 'gso_max_size', gso, 'gro_max_size', gro]);
  }
}
