// Recorded CNI attachments → the workloads the core shapes, and a Container document
// per pod, validated by the same schema and checks as one from a file. Pure. Each pod's
// document is a default (a policy file naming the pod wins over it), ordered by when the
// plugin recorded the pod (the order pods are admitted in when they do not all fit). A
// pod whose annotations can never be valid gets no document and is reported as not
// shaped, without stopping the other pods (one bad pod must not unshape a node).
//
//   runtimeConfig.bandwidth.ingressRate / ingressBurst   download ceiling / burst (bits/s, bits)
//   runtimeConfig.bandwidth.egressRate / egressBurst     upload ceiling / burst
//   sluice.dev/<dir>-guarantee|ceiling|priority|burst    <dir> = download | upload; wins over the above
//   sluice.dev/group                                      the Group it joins (spec.group); else, with
//                                                         cni.groupBy: namespace, its namespace's Group if defined

import { policyName } from '../docker/labels';
import type { LocatedDocument } from '../../policy/documents';
import { API_VERSION, policyDocument, type HostDocument } from '../../policy/schema';
import type { Direction } from '../../tc/model';
import { parseRate } from '../../policy/rates';
import type { BitsPerSec } from '../../units/units';
import { ANNOTATION_PREFIX, annotationProblems, GROUP_ANNOTATION } from '../../cni/annotations';
import { workloadName, type Attachment } from '../../cni/attachment';
import type { ResolvedWorkload, UnshapedWorkload, WorkloadDefault } from '../source';

export const CNI = 'cni';
/** The label each pod's workload carries, that its document selects: one attachment exactly. */
export const ATTACHMENT_LABEL = 'cni.sluice.dev/attachment';

type HostSpec = HostDocument['spec'];

export interface CniDocuments {
  /** One per pod that can be shaped, in the order the plugin recorded them. */
  readonly defaults: readonly WorkloadDefault[];
  readonly workloads: readonly ResolvedWorkload[];
  /** Pods whose annotations can never be valid. */
  readonly unshaped: readonly UnshapedWorkload[];
  /** What each record made, for the next load to reuse. */
  readonly made: DocumentCache;
}

type PodDocument = { document: LocatedDocument } | { reason: string };

/** What a record makes: its document, and its workload (the same object for the same content). */
interface FromRecord {
  readonly doc: PodDocument;
  readonly workload: ResolvedWorkload;
}

/**
 * What each record made, by the record's content (for one Host): serve reloads on every
 * ADD and reads every pod, and validating 100 unchanged documents again cost 3-15 ms;
 * making each pod's workload again was a tenth of a load beside 100-400 pods, and the
 * same workload objects let resolving update its index instead of rebuilding it (resolve.ts).
 */
export type DocumentCache = ReadonlyMap<string, FromRecord>;

/** Where a pod-made document came from, as findings cite it. */
export const cniSource = (a: Attachment): string => `cni pod ${workloadName(a)} (container ${a.containerId.slice(0, 12)})`;

export const attachmentKey = (a: Pick<Attachment, 'containerId' | 'ifname'>): string => `${a.containerId}/${a.ifname}`;

export function cniDocuments(attachments: readonly Attachment[], host: HostSpec, previous: DocumentCache = new Map()): CniDocuments {
  const cni = host.cni;
  const defaults: WorkloadDefault[] = [];
  const workloads: ResolvedWorkload[] = [];
  const unshaped: UnshapedWorkload[] = [];
  const made = new Map<string, FromRecord>();
  if (!cni) return { defaults, workloads, unshaped, made };
  // Records of plugins older than addedAt come first, as if recorded at the epoch.
  const ordered = [...attachments].sort((a, b) => (a.addedAt ?? 0) - (b.addedAt ?? 0) || a.containerId.localeCompare(b.containerId) || a.ifname.localeCompare(b.ifname));
  for (const a of ordered) {
    if (cni.network !== undefined && a.network !== cni.network) continue;
    if (a.bridge !== undefined && a.bridge !== host.bridge) continue;
    const key = contentKey(a);
    const from = previous.get(key) ?? { doc: documentOf(a, podPolicyName(a), host), workload: workloadOf(a, cni.groupBy) };
    made.set(key, from);
    const { doc, workload } = from;
    workloads.push(workload);
    if ('reason' in doc) unshaped.push({ source: CNI, workload: workload.name, reason: 'invalid', detail: doc.reason });
    else defaults.push({ workloadId: workload.id, workload: workload.name, document: doc.document });
  }
  return { defaults, workloads, unshaped, made };
}

/**
 * A record's content as its cache key, made once per record object: the CNI source hands
 * the same object again while its file is unchanged (AttachmentStore.scan), and
 * serialising every pod on every load was a third of cniDocuments beside 100 pods.
 */
const contentKeys = new WeakMap<Attachment, string>();
function contentKey(a: Attachment): string {
  let key = contentKeys.get(a);
  if (key === undefined) contentKeys.set(a, (key = JSON.stringify(a)));
  return key;
}

/**
 * A recorded pod as the core sees it. With groupBy: namespace its source's group is its
 * namespace: it joins the Group of that name where one is defined (resolve.ts, and
 * settleDefaults for its own document).
 */
export function workloadOf(a: Attachment, groupBy?: 'namespace'): ResolvedWorkload {
  return {
    source: CNI,
    ...(groupBy === 'namespace' && a.pod ? { group: a.pod.namespace } : {}),
    id: attachmentKey(a),
    name: workloadName(a),
    netns: a.netns,
    device: a.ifname,
    ...(a.hostVeth ? { hostDevice: a.hostVeth } : {}),
    addresses: { v4: a.addresses.filter(isIpv4), v6: a.addresses.filter((x) => !isIpv4(x)) },
    labels: { ...a.annotations, [ATTACHMENT_LABEL]: attachmentKey(a) },
    placement: `network ${a.network}${a.bridge ? ` (bridge ${a.bridge})` : ''}`,
  };
}

const isIpv4 = (x: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(x);

/** "default/web-0" + container id → "web-0-3f2a9c1b": unique per attachment, a DNS label of at most 32. */
export function podPolicyName(a: Attachment): string {
  const base = policyName(a.pod?.name ?? 'pod').slice(0, 22).replace(/-+$/, '');
  const id = a.containerId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || '0';
  const suffix = a.ifname === 'eth0' ? id : `${id}-${policyName(a.ifname).slice(0, 4)}`;
  return `${base || 'pod'}-${suffix}`.slice(0, 32).replace(/-+$/, '');
}

function documentOf(a: Attachment, name: string, host: HostSpec): { document: LocatedDocument } | { reason: string } {
  // What the plugin's ADD refuses; a record of an older plugin may still carry it.
  const problems = annotationProblems(a.annotations, a.bandwidth);
  if (problems.length > 0) return { reason: problems.join('; ') };
  const raw = {
    apiVersion: API_VERSION,
    kind: 'Container',
    metadata: { name },
    spec: {
      match: { cni: { labels: { [ATTACHMENT_LABEL]: attachmentKey(a) } } },
      ...(a.annotations[GROUP_ANNOTATION] !== undefined ? { group: a.annotations[GROUP_ANNOTATION] } : {}),
      download: directionOf(a, 'download', host),
      upload: directionOf(a, 'upload', host),
    },
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
function clampToLink(rate: number, link: BitsPerSec): string | undefined {
  return rate >= link ? undefined : `${Math.floor(rate)}bit`;
}

/** The default guarantee, never above a ceiling the runtime set lower. */
function defaultGuarantee(fallback: BitsPerSec, ceiling: string | undefined): string {
  const c = ceiling !== undefined ? safeRate(ceiling) : undefined;
  return c !== undefined && fallback > c ? ceiling! : `${fallback}bit`;
}

function safeRate(text: string): number | undefined {
  try {
    return parseRate(text);
  } catch {
    return undefined;
  }
}

function annotationOf(path: readonly PropertyKey[]): string {
  if (path[0] === 'spec' && path[1] === 'group') return GROUP_ANNOTATION;
  if (path[0] === 'spec' && typeof path[1] === 'string' && path[2] !== undefined) return `${ANNOTATION_PREFIX}${path[1]}-${String(path[2])}`;
  return path.map(String).join('.');
}
