// One pod's attachment to a CNI network, as the plugin records it on ADD and the
// daemon's CNI source reads it back. Pure: built from the parsed request and what the
// I/O edge found out about the host-side devices.

import { ANNOTATION_PREFIX } from './annotations';
import type { AttachmentEnv, NetConf, PrevResult, RuntimeBandwidth } from './protocol';

export const ATTACHMENT_FORMAT = 1;

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Attachment {
  readonly format: typeof ATTACHMENT_FORMAT;
  /** The CNI network's name (the conflist's "name"). */
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  /** The host side of the pod's veth, when the earlier plugins reported it. */
  readonly hostVeth?: string;
  /** The bridge that veth is a port of. */
  readonly bridge?: string;
  /** The pod's addresses on that interface, without prefix length. */
  readonly addresses: readonly string[];
  readonly bandwidth?: RuntimeBandwidth;
  /** Only the sluice.dev/ annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly pod?: PodRef;
  /** When the plugin recorded it (ms since the epoch): pods that do not all fit are admitted in this order. */
  readonly addedAt?: number;
}

/** The host-side devices, as the I/O edge found them (sysfs) or guessed from the result. */
export interface HostSide {
  readonly hostVeth?: string;
  readonly bridge?: string;
}

export function attachmentOf(conf: NetConf, env: AttachmentEnv & { readonly netns: string }, hostSide: HostSide, addedAt: number): Attachment {
  const pod = podOf(env.args);
  const bandwidth = conf.bandwidth && Object.keys(conf.bandwidth).length > 0 ? conf.bandwidth : undefined;
  return {
    format: ATTACHMENT_FORMAT,
    network: conf.name,
    containerId: env.containerId,
    ifname: env.ifname,
    netns: env.netns,
    ...(hostSide.hostVeth ? { hostVeth: hostSide.hostVeth } : {}),
    ...(hostSide.bridge ? { bridge: hostSide.bridge } : {}),
    addresses: podAddresses(conf.prevResult, env.ifname),
    ...(bandwidth ? { bandwidth } : {}),
    annotations: Object.fromEntries(Object.entries(conf.annotations).filter(([k]) => k.startsWith(ANNOTATION_PREFIX))),
    ...(pod ? { pod } : {}),
    addedAt,
  };
}

function podOf(args: Readonly<Record<string, string>>): PodRef | undefined {
  const namespace = args['K8S_POD_NAMESPACE'];
  const name = args['K8S_POD_NAME'];
  return namespace && name ? { namespace, name } : undefined;
}

/**
 * The addresses of the pod's own interface: ips whose `interface` index is the sandbox
 * interface named CNI_IFNAME (or any sandbox interface, or no index at all, as an IPAM
 * plugin alone reports them).
 */
export function podAddresses(prev: PrevResult | undefined, ifname: string): string[] {
  const interfaces = prev?.interfaces ?? [];
  const own = interfaces.findIndex((i) => i.sandbox && i.name === ifname);
  const sandboxed = new Set(interfaces.flatMap((i, n) => (i.sandbox ? [n] : [])));
  const out: string[] = [];
  for (const ip of prev?.ips ?? []) {
    const index = ip.interface;
    const mine = index === undefined || (own >= 0 ? index === own : sandboxed.has(index));
    if (!mine) continue;
    const address = ip.address.split('/')[0]!;
    if (!out.includes(address)) out.push(address);
  }
  return out;
}

/** Host-side interfaces of the result (no sandbox), in the order the plugin listed them. */
export const hostInterfaces = (prev: PrevResult | undefined): string[] => (prev?.interfaces ?? []).filter((i) => !i.sandbox).map((i) => i.name);

/**
 * Without sysfs to ask: the reference bridge plugin lists the bridge, then the host
 * veth, then the container's interface; ptp lists only the host veth.
 */
export function guessHostSide(prev: PrevResult | undefined): HostSide {
  const names = hostInterfaces(prev);
  if (names.length === 0) return {};
  if (names.length === 1) return { hostVeth: names[0]! };
  return { bridge: names[0]!, hostVeth: names[names.length - 1]! };
}

/** The state file's name: the spec's key (network, container id, ifname), network being the directory. */
export const attachmentFileName = (containerId: string, ifname: string): string => `${containerId}-${ifname}.json`;

/** A pod's workload name in status, metrics and inspect: namespace/pod, else the container id. */
export const workloadName = (a: Pick<Attachment, 'pod' | 'containerId'>): string => (a.pod ? `${a.pod.namespace}/${a.pod.name}` : a.containerId.slice(0, 12));

/** Parses a recorded attachment; undefined when the file is not one (written by someone else, or a newer format). */
export function parseAttachment(text: string): Attachment | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Partial<Attachment>;
  if (a.format !== ATTACHMENT_FORMAT || typeof a.containerId !== 'string' || typeof a.ifname !== 'string' || typeof a.netns !== 'string' || !Array.isArray(a.addresses)) return undefined;
  return a as Attachment;
}
