// Recorded CNI attachments → Container documents, validated by the same schema and
// checks as one from a file. Pure. A pod whose annotations or address do not fit waits,
// reported, without stopping the other pods (one bad pod must not unshape a node).
//
//   runtimeConfig.bandwidth.ingressRate / ingressBurst   download ceiling / burst (bits/s, bits)
//   runtimeConfig.bandwidth.egressRate / egressBurst     upload ceiling / burst
//   sluice.dev/<dir>-guarantee|ceiling|priority|burst    <dir> = download | upload; wins over the above

import { policyName } from '../docker/labels';
import type { WaitingContainer } from '../docker/resolve';
import type { LocatedDocument } from '../policy/documents';
import type { CniBinding } from '../policy/model';
import { parseRate } from '../policy/rates';
import { API_VERSION, policyDocument, type HostDocument } from '../policy/schema';
import { isHostAddress, parseSubnet } from '../policy/subnet';
import { DIRECTIONS, type Direction } from '../tc/model';
import { ANNOTATION_PREFIX, workloadName, type Attachment } from './attachment';

const FIELDS = ['guarantee', 'ceiling', 'priority', 'burst'] as const;
export const ACCEPTED_ANNOTATIONS: readonly string[] = DIRECTIONS.flatMap((d) => FIELDS.map((f) => `${ANNOTATION_PREFIX}${d}-${f}`));

type HostSpec = HostDocument['spec'];

export interface CniDocuments {
  readonly documents: readonly LocatedDocument[];
  /** By policy name: the pod each document shapes. */
  readonly bindings: ReadonlyMap<string, CniBinding>;
  readonly waiting: readonly WaitingContainer[];
}

/** Where a pod-made document came from, as findings cite it. */
export const cniSource = (a: Attachment): string => `cni pod ${workloadName(a)} (container ${a.containerId.slice(0, 12)})`;

export function cniDocuments(attachments: readonly Attachment[], host: HostSpec): CniDocuments {
  const cni = host.cni;
  const documents: LocatedDocument[] = [];
  const bindings = new Map<string, CniBinding>();
  const waiting: WaitingContainer[] = [];
  if (!cni) return { documents, bindings, waiting };
  const ordered = [...attachments].sort((a, b) => a.containerId.localeCompare(b.containerId) || a.ifname.localeCompare(b.ifname));
  for (const a of ordered) {
    if (cni.network !== undefined && a.network !== cni.network) continue;
    if (a.bridge !== undefined && a.bridge !== host.bridge) continue;
    const name = podPolicyName(a);
    const made = documentOf(a, name, host);
    if ('reason' in made) {
      waiting.push({ container: name, reason: made.reason });
      continue;
    }
    documents.push(made.document);
    bindings.set(name, { containerId: a.containerId, workload: workloadName(a), netns: a.netns, device: a.ifname });
  }
  return { documents, bindings, waiting };
}

/** "default/web-0" + container id → "web-0-3f2a9c1b": unique per attachment, a DNS label of at most 32. */
export function podPolicyName(a: Attachment): string {
  const base = policyName(a.pod?.name ?? 'pod').slice(0, 22).replace(/-+$/, '');
  const id = a.containerId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || '0';
  const suffix = a.ifname === 'eth0' ? id : `${id}-${policyName(a.ifname).slice(0, 4)}`;
  return `${base || 'pod'}-${suffix}`.slice(0, 32).replace(/-+$/, '');
}

function documentOf(a: Attachment, name: string, host: HostSpec): { document: LocatedDocument } | { reason: string } {
  const unknown = Object.keys(a.annotations).filter((k) => !ACCEPTED_ANNOTATIONS.includes(k));
  if (unknown.length > 0) return { reason: `unknown annotation ${unknown.join(', ')}; Sluice reads ${ACCEPTED_ANNOTATIONS.join(', ')}` };
  const address = a.addresses.find((x) => /^\d+\.\d+\.\d+\.\d+$/.test(x));
  if (!address) return { reason: `pod ${workloadName(a)} has no IPv4 address (Sluice classifies IPv4)` };
  if (!isHostAddress(parseSubnet(host.subnet), address)) return { reason: `pod ${workloadName(a)} has ${address}, outside the Host subnet ${host.subnet}; make the Host subnet the CNI network's (its IPAM range)` };
  const raw = {
    apiVersion: API_VERSION,
    kind: 'Container',
    metadata: { name },
    spec: { match: { ip: address }, download: directionOf(a, 'download', host), upload: directionOf(a, 'upload', host) },
  };
  const parsed = policyDocument.safeParse(raw);
  if (!parsed.success) return { reason: `pod ${workloadName(a)}: ${parsed.error.issues.map((i) => `${annotationOf(i.path)}: ${i.message}`).join('; ')}` };
  return { document: { file: cniSource(a), value: parsed.data, locate: () => ({ line: 0, column: 0 }) } };
}

/** One direction's fields: annotations first, then runtimeConfig.bandwidth, then the Host's defaults. */
function directionOf(a: Attachment, dir: Direction, host: HostSpec): Record<string, unknown> {
  const annotation = (field: string): string | undefined => a.annotations[`${ANNOTATION_PREFIX}${dir}-${field}`];
  const rate = dir === 'download' ? a.bandwidth?.ingressRate : a.bandwidth?.egressRate;
  const burstBits = dir === 'download' ? a.bandwidth?.ingressBurst : a.bandwidth?.egressBurst;
  const ceiling = annotation('ceiling') ?? (rate && rate > 0 ? clampToLink(rate, host.capacity[dir]) : undefined);
  const guarantee = annotation('guarantee') ?? defaultGuarantee(host.cni!.defaults.guarantee, ceiling);
  const priorityText = annotation('priority');
  const burst = annotation('burst') ?? (burstBits && burstBits > 0 ? `${Math.ceil(burstBits / 8)}b` : undefined);
  return {
    guarantee,
    ...(ceiling !== undefined ? { ceiling } : {}),
    // Annotations are strings; the schema wants the priority as an integer.
    priority: priorityText === undefined ? host.cni!.defaults.priority : /^\d+$/.test(priorityText) ? Number(priorityText) : priorityText,
    ...(burst !== undefined ? { burst } : {}),
  };
}

/** The bandwidth plugin treats a limit above the link as no limit; so does Sluice (the ceiling is then the link). */
function clampToLink(rate: number, capacity: string): string | undefined {
  const link = safeRate(capacity);
  return link !== undefined && rate >= link ? undefined : `${Math.floor(rate)}bit`;
}

/** The default guarantee, never above a ceiling the runtime set lower. */
function defaultGuarantee(fallback: string, ceiling: string | undefined): string {
  const c = ceiling !== undefined ? safeRate(ceiling) : undefined;
  const g = safeRate(fallback);
  return c !== undefined && g !== undefined && g > c ? ceiling! : fallback;
}

function safeRate(text: string): number | undefined {
  try {
    return parseRate(text);
  } catch {
    return undefined;
  }
}

function annotationOf(path: readonly PropertyKey[]): string {
  if (path[0] === 'spec' && typeof path[1] === 'string' && path[2] !== undefined) return `${ANNOTATION_PREFIX}${path[1]}-${String(path[2])}`;
  return path.map(String).join('.');
}
