// The CNI plugin's input: the network configuration on stdin and the CNI_* environment.
// Two targets share the invocations a runtime sends (ADD, DEL, CHECK, VERSION, GC,
// STATUS, as containerd sends them after bridge + host-local):
// - cni-plugin: stdin and environment mutated (structure and text), run through the
//   plugin's entry in this process (the state directory in memory), and 1 case in N as
//   bin/sluice-cni.js (its state directory a temporary one): exit 0 or 1, one JSON object
//   on stdout, an error in the spec's shape with a code it defines and a message naming
//   the variable or field; no record written outside the state directory.
// - cni-annotations: the pod annotations (io.kubernetes.cri.pod-annotations) and
//   runtimeConfig.bandwidth of ADDs mutated, recorded, and read by the daemon's CNI source
//   into Container documents, merged with the node's Host (the DaemonSet's ConfigMap),
//   validated, resolved and compiled: every refusal names the pod and the annotation.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { guessHostSide, parseAttachment, type Attachment } from '../../../src/cni/attachment';
import { main } from '../../../src/cni/main';
import type { PluginDeps } from '../../../src/cni/plugin';
import { CNI_ERROR, CniError, parseRequest, type AttachmentKey } from '../../../src/cni/protocol';
import { AttachmentStore } from '../../../src/cni/store';
import { CNI, cniDocuments } from '../../../src/sources/cni/documents';
import { PolicyLoader } from '../../../src/sources/loader';
import type { HostSections, SourceSnapshot, WorkloadSource, WorkloadSourceFactory } from '../../../src/sources/source';
import { regressionInputs, type CaseResult, type FuzzTarget } from '../harness';
import { INTERESTING_NUMBERS, INTERESTING_STRINGS, isRecord, mutateStructure, mutateText, type Rng } from '../mutate';
import { CNI_BIN, judgeCompile, judgeIssues, judgeThrown, MemoryFiles, REPO, runNode } from './common';

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
const INVOCATIONS: readonly CniInput[] = [
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
const ENV_KEYS: readonly string[] = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'];
const ANNOTATION_KEYS: readonly string[] = [...['download', 'upload'].flatMap((d) => ['guarantee', 'ceiling', 'priority', 'burst'].map((f) => `sluice.dev/${d}-${f}`)), 'sluice.dev/', 'sluice.dev/download', 'sluice.dev/download-guarantee-x', 'Sluice.dev/upload-ceiling', 'kubernetes.io/egress-bandwidth'];

const parsed = (stdin: string): unknown => {
  try {
    return JSON.parse(stdin) as unknown;
  } catch {
    return undefined;
  }
};

function mutateEnv(e: Readonly<Record<string, string>>, rng: Rng): Record<string, string> {
  const out = { ...e };
  const key = rng.pick(ENV_KEYS);
  switch (rng.int(4)) {
    case 0:
      delete out[key];
      break;
    case 1:
      out[key] = rng.pick(INTERESTING_STRINGS);
      break;
    case 2:
      out[key] = mutateText(out[key] ?? '', rng);
      break;
    default:
      out['CNI_COMMAND'] = rng.pick(['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS', 'add', 'UPDATE', '']);
  }
  return out;
}

function mutateStdin(stdin: string, rng: Rng): string {
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
class MemoryStore extends AttachmentStore {
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

function memoryDeps(store: MemoryStore): PluginDeps {
  return { storeFor: () => store, hostSide: async (prev) => guessHostSide(prev), poke: async () => false, missingShaping: async () => [] };
}

const CODES: readonly number[] = Object.values(CNI_ERROR);
/** Where a CNI error points: an environment variable, a configuration field, stdin, or the container. */
const CNI_LOCATED = /CNI_[A-Z]+|"[^"]+"|runtimeConfig|prevResult|cniVersion|stdin|stateDir|controlSocket|container \S+/;

/** The plugin's answer against the spec: exit 0 or 1, one JSON object, errors in the spec's shape. */
function judgeAnswer(command: string | undefined, code: number | null, stdout: string): CaseResult {
  if (code !== 0 && code !== 1) return { failure: 'exit-status', detail: `exit ${code}; the plugin documents 0 and 1 (CNI: an error is non-zero with the error on stdout)` };
  const text = stdout.trim();
  if (text === '') return code === 0 && ['DEL', 'CHECK', 'GC', 'STATUS'].includes(command ?? '') ? { outcome: `${command} ok` } : { failure: 'crash', detail: `exit ${code} with nothing on stdout` };
  const answer = parsed(text);
  if (!isRecord(answer)) return { failure: 'crash', detail: `stdout is not one JSON object: ${text.slice(0, 300)}` };
  if (code === 0) return { outcome: `${command} ok` };
  const msg = typeof answer['msg'] === 'string' ? answer['msg'] : '';
  if (typeof answer['code'] !== 'number' || !CODES.includes(answer['code']) || typeof answer['cniVersion'] !== 'string') return { failure: 'crash', detail: `not the spec's error: ${text.slice(0, 300)}` };
  if (msg.startsWith('sluice plugin failed')) return { failure: 'crash', detail: msg };
  if (!CNI_LOCATED.test(`${msg} ${String(answer['details'] ?? '')}`)) return { failure: 'unlocated', detail: text.slice(0, 300) };
  return { outcome: `error ${answer['code']}` };
}

export function cniPluginTarget(): FuzzTarget<CniInput> {
  let dir: string | undefined;
  return {
    name: 'cni-plugin',
    describe: 'CNI stdin and environment: ADD/DEL/CHECK/VERSION/GC/STATUS invocations mutated → the plugin\'s entry in process (state in memory); 1 case in N as bin/sluice-cni.js',
    seeds: () => [...INVOCATIONS, ...(regressionInputs('cni-plugin') as CniInput[])],
    generate(rng, seeds) {
      const base = rng.pick(seeds);
      const r = rng.int(10);
      return { env: r >= 6 ? mutateEnv(base.env, rng) : base.env, stdin: r < 8 ? mutateStdin(base.stdin, rng) : base.stdin };
    },
    async run(input) {
      const store = new MemoryStore('/run/sluice/cni');
      // CHECK, DEL and GC meet a pod recorded by the runtime's ADD before them.
      if (['CHECK', 'DEL', 'GC'].includes(input.env['CNI_COMMAND'] ?? '')) await main(INVOCATIONS[0]!.stdin, INVOCATIONS[0]!.env, () => undefined, memoryDeps(store));
      let out = '';
      let code: number;
      try {
        code = await main(input.stdin, input.env, (t) => (out += t), memoryDeps(store));
      } catch (e) {
        return { failure: 'crash', detail: `main threw: ${(e as Error).stack ?? String(e)}` };
      }
      if (store.escaped) return { failure: 'crash', detail: `an attachment record would be written outside the state directory: ${store.escaped}` };
      return judgeAnswer(input.env['CNI_COMMAND'], code, out);
    },
    runAsProcess(input) {
      dir ??= mkdtempSync(join(tmpdir(), 'sl-fuzz-cni-'));
      rmSync(dir, { recursive: true, force: true });
      const value = parsed(input.stdin);
      // The process writes records for real: keep them in a directory of this run, and
      // do not let CHECK read the kernel in whatever namespace the case names.
      const stdin = isRecord(value) ? JSON.stringify({ ...value, stateDir: join(dir, 'state'), controlSocket: join(dir, 'control.sock') }) : input.stdin;
      const command = input.env['CNI_COMMAND'] === 'CHECK' ? 'DEL' : input.env['CNI_COMMAND'];
      const r = runNode(CNI_BIN, [], { env: { ...input.env, ...(command !== undefined ? { CNI_COMMAND: command } : {}), PATH: process.env['PATH'] ?? '' }, input: stdin, timeoutMs: 20_000 });
      if (r.error) return { failure: 'hang', detail: `bin/sluice-cni.js: ${r.error}` };
      const judged = judgeAnswer(command, r.code, r.stdout);
      return 'failure' in judged ? { failure: judged.failure, detail: `bin/sluice-cni.js: ${judged.detail} ${r.stderr.slice(0, 500)}` } : { outcome: `process: ${judged.outcome}` };
    },
    toJson: (input) => input,
    fromJson: (json) => json as CniInput,
  };
}

// ---------------------------------------------------------------- annotations

export interface CniPodsInput {
  /** One ADD per pod (stdin and environment), in order. */
  readonly adds: readonly CniInput[];
}

const NODE_HOST = (): string => {
  const text = readFileSync(join(REPO, 'deploy', 'kubernetes', 'daemonset.yaml'), 'utf8');
  const configMap = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; data?: Record<string, string> }).find((d) => d.kind === 'ConfigMap');
  return configMap!.data!['host.yaml']!;
};

/** The CNI source as `serve` has it, reading recorded attachments from memory instead of the state directory. */
class RecordedPods implements WorkloadSource {
  readonly name = CNI;
  readonly noun = 'CNI pod';
  refused: readonly { pod: string; reason: string }[] = [];

  constructor(
    private readonly host: HostSections,
    private readonly attachments: readonly Attachment[],
  ) {}

  async load(): Promise<SourceSnapshot> {
    const made = cniDocuments(this.attachments, this.host);
    this.refused = made.refused;
    return { documents: made.documents, issues: [], workloads: made.workloads, origin: this.host.cni?.stateDir ?? '' };
  }

  follow(): () => void {
    return () => undefined;
  }
}

function mutateAnnotations(stdin: string, rng: Rng): string {
  const value = parsed(stdin);
  if (!isRecord(value) || !isRecord(value['runtimeConfig'])) return mutateStdin(stdin, rng);
  const rc = { ...value['runtimeConfig'] };
  const annotations = isRecord(rc['io.kubernetes.cri.pod-annotations']) ? { ...rc['io.kubernetes.cri.pod-annotations'] } : {};
  const bandwidth = isRecord(rc['bandwidth']) ? { ...rc['bandwidth'] } : {};
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const op = rng.int(10);
    const keys = Object.keys(annotations);
    if (op < 4) {
      const key = keys.length > 0 && rng.chance(0.7) ? rng.pick(keys) : rng.pick(ANNOTATION_KEYS);
      annotations[key] = rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : mutateText(String(annotations[key] ?? '10mbit'), rng);
    } else if (op < 5 && keys.length > 0) delete annotations[rng.pick(keys)];
    else if (op < 7) annotations[rng.pick(ANNOTATION_KEYS)] = rng.pick(['0', '7', '8', '1mbit', '100mbit', '2gbit', '64kib', '1500b', '']);
    else if (op < 9) bandwidth[rng.pick(['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'])] = rng.chance(0.7) ? rng.pick(INTERESTING_NUMBERS) : rng.pick([1e6, 1e9, 1.5e8, 999]);
    else annotations[rng.pick(ANNOTATION_KEYS)] = mutateText('sluice.dev/download-guarantee', rng);
  }
  return JSON.stringify({ ...value, runtimeConfig: { ...rc, bandwidth, 'io.kubernetes.cri.pod-annotations': annotations } });
}

export function cniAnnotationsTarget(): FuzzTarget<CniPodsInput> {
  const hostText = NODE_HOST();
  const adds = INVOCATIONS.filter((i) => i.env['CNI_COMMAND'] === 'ADD');
  return {
    name: 'cni-annotations',
    describe: 'CNI pod annotations and runtimeConfig.bandwidth: ADDs mutated → the plugin records them → the CNI source\'s Container documents, merged with the DaemonSet\'s Host, validated, resolved, compiled',
    seeds: () => [{ adds }, ...(regressionInputs('cni-annotations') as CniPodsInput[])],
    generate(rng, seeds) {
      const base = rng.pick(seeds).adds;
      const pods = Array.from({ length: 1 + rng.int(4) }, (_, i) => {
        const b = rng.pick(base);
        const id = `pod${i}${rng.int(1000)}`;
        const address = `10.244.0.${rng.chance(0.9) ? 10 + i : rng.pick([0, 1, 255, 10])}`;
        const stdin = b.stdin.replace('10.244.0.5/24', `${address}/24`);
        return { env: { ...b.env, CNI_CONTAINERID: id, CNI_ARGS: (b.env['CNI_ARGS'] ?? '').replace(/K8S_POD_NAME=[^;]*/, `K8S_POD_NAME=${rng.chance(0.95) ? `pod-${i}` : rng.pick(INTERESTING_STRINGS)}`) }, stdin };
      });
      for (let n = 1 + rng.int(2); n > 0; n--) {
        const i = rng.int(pods.length);
        pods[i] = { ...pods[i]!, stdin: mutateAnnotations(pods[i]!.stdin, rng) };
      }
      return { adds: pods };
    },
    async run(input) {
      const attachments: Attachment[] = [];
      let refusedAtAdd = 0;
      for (const pod of input.adds) {
        let request;
        try {
          request = parseRequest(pod.env, pod.stdin);
        } catch (e) {
          if (!(e instanceof CniError)) return { failure: 'crash', detail: `parseRequest: ${(e as Error).stack ?? String(e)}` };
          if (!CNI_LOCATED.test(`${e.message} ${e.details}`)) return { failure: 'unlocated', detail: `ADD refused: ${e.message}` };
          refusedAtAdd++;
          continue;
        }
        if (request.command !== 'ADD') continue;
        const store = new MemoryStore('/run/sluice/cni');
        let out = '';
        const code = await main(pod.stdin, pod.env, (t) => (out += t), memoryDeps(store));
        const answered = judgeAnswer('ADD', code, out);
        if ('failure' in answered) return answered;
        attachments.push(...(await store.list()));
      }
      const files = [{ path: '/etc/sluice/host.yaml', text: hostText }];
      let pods: RecordedPods | undefined;
      const factory: WorkloadSourceFactory = { label: CNI, fromHost: (host) => (pods ??= new RecordedPods(host, attachments)) };
      let loaded;
      try {
        loaded = await new PolicyLoader(new MemoryFiles(files), [factory]).load();
      } catch (e) {
        return judgeThrown(e, 'loading the pods');
      }
      for (const r of pods?.refused ?? []) {
        // A pod refused is named, and so is the annotation or field that does not fit.
        if (!r.reason.includes(r.pod) && !/unknown annotation/.test(r.reason)) return { failure: 'unlocated', detail: `pod ${r.pod}: ${r.reason}` };
        if (!/sluice\.dev\/|runtimeConfig|kubernetes\.io\/|metadata\.name|spec\./.test(r.reason)) return { failure: 'unlocated', detail: `pod ${r.pod}: ${r.reason}` };
      }
      const note = `${refusedAtAdd > 0 ? 'some ADDs refused, ' : ''}${(pods?.refused.length ?? 0) > 0 ? 'some pods refused, ' : ''}`;
      if (!loaded.ok) {
        const byPod = (i: { file: string; path: string }): boolean => i.file.startsWith('cni pod ') && i.path.trim() !== '';
        const bad = judgeIssues(loaded.issues, files.map((f) => f.path), byPod);
        return bad ?? { outcome: `${note}invalid, every finding located` };
      }
      const compiled = judgeCompile(loaded.policy);
      return 'outcome' in compiled ? { outcome: `${note}${compiled.outcome}` } : compiled;
    },
    toJson: (input) => input,
    fromJson: (json) => json as CniPodsInput,
  };
}
