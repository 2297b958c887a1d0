// What the two CNI fuzz targets share (cniPlugin.ts: stdin and environment; cniAnnotations.ts:
// the pod annotations the daemon reads back): the invocations a runtime sends (ADD, DEL,
// CHECK, VERSION, GC, STATUS, as containerd sends them after bridge + host-local), the
// state directory in memory, and the plugin's answer judged against the spec.

import { join, relative } from 'node:path';
import { guessHostSide, parseAttachment, type Attachment } from '../../../src/cni/attachment';
import type { PluginDeps } from '../../../src/cni/plugin';
import { CNI_ERROR, type AttachmentKey } from '../../../src/cni/protocol';
import { AttachmentStore } from '../../../src/cni/store';
import type { CaseResult } from '../harness';
import { isRecord, mutateStructure, mutateText, type Rng } from '../mutate';

export interface CniInput {
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

const PREV_RESULT = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '02:00:00:00:00:01' }, { name: 'veth1234', mac: '02:00:00:00:00:02' }, { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/var/run/netns/cni-1234' }],
  ips: [{ address: '10.244.0.5/24', gateway: '10.244.0.1', interface: 2 }],
};

const ANNOTATIONS = { 'sluice.dev/download-guarantee': '30mbit', 'sluice.dev/download-priority': '0', 'sluice.dev/upload-guarantee': '10mbit', 'sluice.dev/upload-ceiling': '100mbit', 'sluice.dev/upload-burst': '64kib', 'kubernetes.io/ingress-bandwidth': '200M' };

const env = (command: string, id = 'c0ffee01', pod = 'web-0'): Record<string, string> => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/var/run/netns/cni-1234', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${id}` });

const conf = (cniVersion: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ cniVersion, name: 'pods', type: 'sluice', capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true }, ...extra });

const add = (annotations: Record<string, string>, bandwidth?: Record<string, number>): string => conf('1.0.0', { prevResult: PREV_RESULT, runtimeConfig: { ...(bandwidth ? { bandwidth } : {}), 'io.kubernetes.cri.pod-annotations': annotations } });

/** What a runtime sends: every command, with and without bandwidth and annotations. */
export const INVOCATIONS: readonly CniInput[] = [
  { env: env('ADD'), stdin: add(ANNOTATIONS, { ingressRate: 200_000_000, ingressBurst: 800_000, egressRate: 50_000_000 }) },
  { env: env('ADD', 'deadbeef02', 'api-1'), stdin: add({ 'sluice.dev/download-guarantee': '5mbit' }) },
  { env: env('ADD', 'f00d03', 'batch-2'), stdin: add({}, { egressRate: 10_000_000, egressBurst: 100_000 }) },
  { env: env('DEL'), stdin: conf('1.0.0', { prevResult: PREV_RESULT }) },
  { env: env('CHECK'), stdin: conf('1.0.0', { prevResult: PREV_RESULT }) },
  { env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"1.0.0"}' },
  { env: { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }, stdin: conf('1.1.0', { 'cni.dev/valid-attachments': [{ containerID: 'c0ffee01', ifname: 'eth0' }] }) },
  { env: { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' }, stdin: conf('1.1.0') },
];

const CONF_KEYS: readonly string[] = ['cniVersion', 'name', 'type', 'prevResult', 'interfaces', 'ips', 'address', 'gateway', 'interface', 'sandbox', 'mac', 'runtimeConfig', 'bandwidth', 'ingressRate', 'ingressBurst', 'egressRate', 'egressBurst', 'io.kubernetes.cri.pod-annotations', 'stateDir', 'controlSocket', 'cni.dev/valid-attachments', 'containerID', 'ifname', 'capabilities'];
export const ENV_KEYS: readonly string[] = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'];
export const ANNOTATION_KEYS: readonly string[] = [...['download', 'upload'].flatMap((d) => ['guarantee', 'ceiling', 'priority', 'burst'].map((f) => `sluice.dev/${d}-${f}`)), 'sluice.dev/', 'sluice.dev/download', 'sluice.dev/download-guarantee-x', 'Sluice.dev/upload-ceiling', 'kubernetes.io/egress-bandwidth'];

export const parsed = (stdin: string): unknown => {
  try {
    return JSON.parse(stdin) as unknown;
  } catch {
    return undefined;
  }
};

export function mutateStdin(stdin: string, rng: Rng): string {
  const value = parsed(stdin);
  if (value !== undefined && rng.chance(0.75)) {
    try {
      return JSON.stringify(mutateStructure(value, rng, CONF_KEYS, INVOCATIONS.map((i) => parsed(i.stdin)))) ?? 'null';
    } catch {
      // Not serializable (a lone surrogate is fine; a cycle is impossible): fall back to text.
    }
  }
  return mutateText(stdin, rng);
}

/** The state directory in memory. Paths are worked out as the real store would, and one leaving the directory is a finding. */
export class MemoryStore extends AttachmentStore {
  private readonly records = new Map<string, Attachment>();
  escaped: string | undefined;

  private pathOf(network: string, key: AttachmentKey): string {
    const path = join(this.networkDir(network), `${key.containerId}-${key.ifname}.json`);
    const rel = relative(this.stateDir, path);
    if (rel.startsWith('..') || rel.split('/').length !== 2) this.escaped ??= `network ${JSON.stringify(network)}, container ${JSON.stringify(key.containerId)}, ifname ${JSON.stringify(key.ifname)} → ${path}`;
    return path;
  }

  override async put(a: Attachment): Promise<void> {
    this.records.set(this.pathOf(a.network, a), parseAttachment(JSON.stringify(a)) ?? a);
  }

  override async get(network: string, key: AttachmentKey): Promise<Attachment | undefined> {
    return this.records.get(this.pathOf(network, key));
  }

  override async remove(network: string, key: AttachmentKey): Promise<boolean> {
    return this.records.delete(this.pathOf(network, key));
  }

  override async retainOnly(network: string, valid: readonly AttachmentKey[]): Promise<Attachment[]> {
    // GC's list only names what to keep: compared, never opened.
    const keep = new Set(valid.map((k) => join(this.networkDir(network), `${k.containerId}-${k.ifname}.json`)));
    this.pathOf(network, { containerId: 'x', ifname: 'y' });
    const removed = [...this.records.entries()].filter(([p, a]) => a.network === network && !keep.has(p));
    for (const [p] of removed) this.records.delete(p);
    return removed.map(([, a]) => a);
  }

  override async list(network?: string): Promise<Attachment[]> {
    return [...this.records.values()].filter((a) => network === undefined || a.network === network);
  }

  override async writable(): Promise<void> {}
}

export function memoryDeps(store: MemoryStore): PluginDeps {
  return { storeFor: () => store, hostSide: async (prev) => guessHostSide(prev), poke: async () => false, missingShaping: async () => [] };
}

const CODES: readonly number[] = Object.values(CNI_ERROR);
/** Where a CNI error points: an environment variable, a configuration field, stdin, or the container. */
export const CNI_LOCATED = /CNI_[A-Z]+|"[^"]+"|runtimeConfig|prevResult|cniVersion|stdin|stateDir|controlSocket|container \S+/;

/** The plugin's answer against the spec: exit 0 or 1, one JSON object, errors in the spec's shape. */
export function judgeAnswer(command: string | undefined, code: number | null, stdout: string): CaseResult {
  if (code !== 0 && code !== 1) return { failure: 'exit-status', detail: `exit ${code}; the plugin documents 0 and 1 (CNI: an error is non-zero with the error on stdout)` };
  const text = stdout.trim();
  if (text === '') return code === 0 && ['DEL', 'CHECK', 'GC', 'STATUS'].includes(command ?? '') ? { outcome: `${command} ok` } : { failure: 'crash', detail: `exit ${code} with nothing on stdout` };
  const answer = parsed(text);
  if (!isRecord(answer)) return { failure: 'crash', detail: `stdout is not one JSON object: ${text.slice(0, 300)}` };
  if (code === 0) return { outcome: `${command} ok` };
  const msg = typeof answer['msg'] === 'string' ? answer['msg'] : '';
  if (typeof answer['code'] !== 'number' || !CODES.includes(answer['code']) || typeof answer['cniVersion'] !== 'string') return { failure: 'crash', detail: `not the spec's error: ${text.slice(0, 300)}` };
  if (answer['code'] === CNI_ERROR.internal || msg.startsWith('sluice plugin failed')) return { failure: 'crash', detail: msg };
  if (!CNI_LOCATED.test(`${msg} ${String(answer['details'] ?? '')}`)) return { failure: 'unlocated', detail: text.slice(0, 300) };
  return { outcome: `error ${answer['code']}` };
}
