// CNI pod annotations (io.kubernetes.cri.pod-annotations) and runtimeConfig.bandwidth:
// the ADDs of 1-4 pods mutated, recorded by the plugin, and read by the daemon's CNI source
// into Container documents, merged with the node's Host (the DaemonSet's ConfigMap),
// validated, resolved and compiled as `serve` does. Every refusal names the pod and the
// annotation or field; every finding its file:line or its pod.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Attachment } from '../../../src/cni/attachment';
import { main } from '../../../src/cni/main';
import { CniError, parseRequest } from '../../../src/cni/protocol';
import { CNI, cniDocuments } from '../../../src/sources/cni/documents';
import { PolicyLoader } from '../../../src/sources/loader';
import type { HostSections, SourceSnapshot, WorkloadSource, WorkloadSourceFactory } from '../../../src/sources/source';
import { regressionInputs, type FuzzTarget } from '../harness';
import { INTERESTING_NUMBERS, INTERESTING_STRINGS, isRecord, mutateText, type Rng } from '../mutate';
import { judgeCompile, judgeIssues, judgeThrown, MemoryFiles, REPO } from './common';
import { ANNOTATION_KEYS, CNI_LOCATED, INVOCATIONS, judgeAnswer, MemoryStore, memoryDeps, mutateStdin, parsed, type CniInput } from './cniShared';

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
