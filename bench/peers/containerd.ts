// bench/peers with containerd as the caller: the same three systems, each a node whose
// pods Debian's containerd brings up through its CRI plugin (RunPodSandbox as the kubelet
// sends it, test/support/criNode.ts), with the system's conflist: bridge + host-local,
// then nothing, the reference `bandwidth` plugin (the pod's rate as the kubelet's
// kubernetes.io/*-bandwidth annotations), or `sluice` as install-cni.js chains it (the
// ceiling as those annotations, guarantee and priority as sluice.dev/ ones) with
// `sluice serve` running from before the first pod. Times: pods one RunPodSandbox after
// another, then one more (ONE_MORE of them, one at a time on a settled node, the median),
// until it is shaped (bandwidth: when RunPodSandbox returns, its TBFs made in the ADD;
// Sluice: when its classes are in the kernel, read as CHECK reads them).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { shapingProblems } from '../../src/cni/check';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { ObservedState } from '../../src/tc/model';
import type { BitsPerSec } from '../../src/units/units';
import { CriNode } from '../../test/support/criNode';
import { bundledNodePlugin, recordsDir, startServe, type ServeProcess } from './sluiceNode';
import { median } from '../stats';
import { kubeletBandwidth, pluginRate, sampleSystems, setupSpec, sluiceAnnotations, type PodSpec, type SampledNode, type SystemName } from './systems';

export interface CriSetupTimes {
  readonly pods: number;
  /** `pods` RunPodSandbox calls one after another. */
  readonly allMs: number;
  /** One more pod's RunPodSandbox with the others running: the median of ONE_MORE pods, each on a settled node. */
  readonly oneMs: number;
  /** Each of those pods' RunPodSandbox, in order. */
  readonly oneSamplesMs: readonly number[];
  /** From that call until the pod is shaped (median); undefined where nothing shapes. */
  readonly oneShapedMs: number | undefined;
}

const NETNS: Record<SystemName, string> = { none: 'sl-pcn-host', bandwidth: 'sl-pcb-host', sluice: 'sl-pcs-host' };
const POLL_MS = 2;

function annotationsFor(system: SystemName, spec: PodSpec): Record<string, string> {
  switch (system) {
    case 'none':
      return {};
    case 'bandwidth':
      return kubeletBandwidth(pluginRate(spec));
    case 'sluice':
      return { ...(spec.ceiling ? kubeletBandwidth(spec.ceiling) : {}), ...sluiceAnnotations(spec) };
    default: {
      const never: never = system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

interface OneMore {
  readonly ms: number;
  readonly shapedMs: number | undefined;
}

/** A containerd node with its `count` pods (timed), taking one more pod at a time. */
interface CriSetupNode extends SampledNode<OneMore> {
  readonly allMs: number;
}

async function bringUp(system: SystemName, count: number, capacity: BitsPerSec): Promise<CriSetupNode> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'sl-pc-'));
  const records = recordsDir(scratch);
  const node = new CriNode({
    netns: NETNS[system],
    bridge: 'sl-br0',
    ifb: 'sl-ifb0',
    subnet: '198.18.0.0/24',
    gateway: '198.18.0.1',
    network: 'sl-bench',
    capacity: `${capacity / 1e6}mbit`,
    chained: system,
    // Apart per node: a bed's teardown removes the pods' cgroups under its parent.
    cgroupParent: `/sl-peers-cri-${system}`,
    nodePlugin: bundledNodePlugin(scratch),
    stateDir: records,
  });
  // Following the namespace's change announcements: a poll while nothing changed costs a drain, not a full read (which would take CPU from serve).
  const probe = new RtnlKernel({ followChanges: true });
  let serve: ServeProcess | undefined;
  const close = async (): Promise<void> => {
    await probe.close();
    // The pods' DELs go through serve; then serve and what it made.
    await node.bed.removeAllPods().catch(() => undefined);
    await serve?.destroy();
    await node.tearDown();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(records, { recursive: true, force: true });
  };
  try {
    await node.setUp();
    // As on a node, serve runs (in its own process) before the first pod; the shaping measured is the one its plugin's ADD starts.
    if (system === 'sluice') serve = await startServe(node.policyDir, node.controlSocket, path.join(scratch, 'serve.log'));
    const run = async (i: number): Promise<{ ms: number; at: number; id: string }> => {
      const at = performance.now();
      const id = await node.bed.cri.runPodSandbox({ name: `s${i}`, namespace: 'bench', uid: `uid-${i}`, annotations: annotationsFor(system, setupSpec(i)), cgroupParent: node.options.cgroupParent });
      return { ms: performance.now() - at, at, id };
    };
    let allMs = 0;
    for (let i = 0; i < count; i++) allMs += (await run(i)).ms;
    const read = (): Promise<ObservedState> => probe.observe({ netns: [node.netns], withStats: false, external: [{ netns: node.netns, dev: 'sl-br0' }] });
    const running = serve;
    return {
      allMs,
      close,
      ...(running ? { settled: (since: number) => running.settled(since) } : {}),
      async add(k) {
        const one = await run(count + k);
        if (system === 'none') return { ms: one.ms, shapedMs: undefined };
        if (system === 'bandwidth') return { ms: one.ms, shapedMs: one.ms };
        // Until the start of the read that finds its classes (they were in the kernel by then).
        // The first read starts as RunPodSandbox returns, beside the status call that says the
        // pod's address (~10 ms that the bench's asking, not Sluice, would otherwise add).
        let readAt = performance.now();
        let reading = read();
        const address = (await node.bed.status(one.id)).ip;
        for (;;) {
          if (shapingProblems(await reading, 'sl-br0', [address]).length === 0) return { ms: one.ms, shapedMs: readAt - one.at };
          if (performance.now() - one.at > 30_000) throw new Error(`Sluice did not shape ${address} within 30 s`);
          await new Promise((r) => setTimeout(r, POLL_MS));
          readAt = performance.now();
          reading = read();
        }
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Each system's containerd node with `count` pods, then ONE_MORE more on each, taking turns (sampleSystems); the medians. */
export function timeContainerdSetups(systems: readonly SystemName[], count: number, capacity: BitsPerSec, log: (line: string) => void): Promise<Partial<Record<SystemName, CriSetupTimes>>> {
  const up = (system: SystemName): Promise<CriSetupNode> => {
    log(`${system}: ${count} pods through containerd's CRI plugin`);
    return bringUp(system, count, capacity);
  };
  return sampleSystems(systems, up, (_system, node, samples: readonly OneMore[]) => {
    const shaped = samples.flatMap((m) => (m.shapedMs === undefined ? [] : [m.shapedMs]));
    return Promise.resolve({ pods: count, allMs: node.allMs, oneMs: median(samples.map((m) => m.ms)), oneSamplesMs: samples.map((m) => m.ms), oneShapedMs: shaped.length > 0 ? median(shaped) : undefined });
  }, log);
}
