// Pods through Debian's real containerd, as the kubelet drives it (RunPodSandbox with the
// pod's metadata and annotations, StopPodSandbox, RemovePodSandbox), its CRI plugin
// running the node's conflist: bridge + host-local, then sluice chained as
// install-cni.js chains it, with `sluice serve` shaping. One node, its steps in order:
// a pod started while serve is down, the kubelet's own bandwidth annotations as ceilings,
// names in status, containerd and serve restarted under running pods, a policy file
// overriding a pod's annotations and its undo, a pod that can never be shaped, a pod
// that does not fit, and pods stopped. Budget: about 60 s.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { formatUnshaped } from '../../src/cli/format/unshaped';
import { renderStatus } from '../../src/cli/format/status';
import { requestControl } from '../../src/daemon/control';
import { createMetrics } from '../../src/metrics/metrics';
import type { Reconciler } from '../../src/reconcile/reconciler';
import type { UnshapedWorkload } from '../../src/sources/source';
import type { TrafficSnapshot } from '../../src/traffic/snapshot';
import { classOnBridge, until } from '../support/cni';
import type { RunningPod } from '../support/containerd';
import { criTestbed } from '../support/criTestbed';
import { describeKernel, sh } from '../support/kernel';

const NODE = { netns: 'sl-crihost', bridge: 'sl-cri0', ifb: 'sl-criifb0', subnet: '198.18.48.0/24', gateway: '198.18.48.1', network: 'sl-pods', capacity: '200mbit', chained: 'sluice', cgroupParent: '/sl-cri-lifecycle' } as const;
const TICK_MS = 60_000;
/** The kubelet's own annotations: containerd turns them into runtimeConfig.bandwidth. */
const KUBELET_CEILINGS = { 'kubernetes.io/ingress-bandwidth': '150M', 'kubernetes.io/egress-bandwidth': '100M' };

describeKernel('containerd CRI drives the CNI chain: pod lifecycle with serve', ['nsenter', 'promtool', 'containerd', 'runc', 'ctr', 'gcc'], () => {
  const bed = criTestbed(NODE);
  const { node } = bed;
  let reconciler: Reconciler | undefined;
  let metrics: ReturnType<typeof createMetrics>;
  const pods = new Map<string, RunningPod>();

  const shaped = async (pod: RunningPod): Promise<boolean> => (await classOnBridge(bed.kernel, NODE.netns, NODE.bridge, pod.ip)) !== undefined;
  const classes = async (dev: string): Promise<string> => sh('tc', ['-n', NODE.netns, 'class', 'show', 'dev', dev]);
  /** What Sluice put in the kernel for the pods, as tc prints it (no counters). */
  const shaping = async (): Promise<string> => {
    const parts = await Promise.all([
      sh('tc', ['-n', NODE.netns, 'qdisc', 'show']),
      classes(NODE.bridge),
      classes(NODE.ifb),
      sh('tc', ['-n', NODE.netns, 'filter', 'show', 'dev', NODE.bridge]),
      sh('tc', ['-n', NODE.netns, 'filter', 'show', 'dev', NODE.bridge, 'ingress']),
      sh('tc', ['-n', NODE.netns, 'filter', 'show', 'dev', NODE.ifb]),
    ]);
    return parts.join('\n');
  };
  const records = (): string[] => (existsSync(join(node.stateDir, NODE.network)) ? readdirSync(join(node.stateDir, NODE.network)).filter((f) => f.endsWith('.json')) : []);
  const status = (): Promise<{ snapshot: TrafficSnapshot; unshaped: UnshapedWorkload[] }> => requestControl(node.controlSocket, { cmd: 'status' });
  const start = async (): Promise<void> => {
    reconciler = undefined;
    metrics = createMetrics({ snapshot: () => reconciler?.current.snapshot }, 'test');
    reconciler = (await node.startServe(TICK_MS, undefined, { onTick: (r) => metrics.observeTick(r), onUnshaped: (u) => metrics.observeUnshaped(u) })).reconciler;
  };
  const run = async (name: string, annotations: Record<string, string>): Promise<RunningPod> => {
    const pod = await node.bed.runPod({ name, namespace: 'shop', annotations });
    pods.set(name, pod);
    return pod;
  };

  it('a pod started while serve is down is recorded (the Node plugin answers) and shaped when serve starts', async () => {
    const early = await run('early', { 'sluice.dev/download-guarantee': '5mbit' });
    expect(early.ip).toMatch(/^198\.18\.48\.\d+$/);
    expect(records()).toHaveLength(1);
    expect(await shaped(early)).toBe(false);
    await start();
    expect(await shaped(early)).toBe(true);
  });

  it("the kubelet's kubernetes.io/ingress-bandwidth: 150M and egress-bandwidth: 100M are the pod's ceilings; status names pods namespace/pod", async () => {
    const web = await run('web', { ...KUBELET_CEILINGS, 'sluice.dev/download-guarantee': '60mbit', 'sluice.dev/upload-guarantee': '60mbit', 'sluice.dev/download-priority': '0' });
    await until('web shaped', () => shaped(web));
    expect(await classes(NODE.bridge)).toMatch(/rate 60Mbit ceil 150Mbit/);
    expect(await classes(NODE.ifb)).toMatch(/rate 60Mbit ceil 100Mbit/);
    // status is the tick's reading, and that tick follows a burst of ADDs (serve's TICK_AFTER_CHANGE_MS), not each ADD.
    await until('status names web', async () => (await status()).snapshot.rows.some((r) => r.workload === 'shop/web'));
    const { snapshot } = await status();
    expect([...new Set(snapshot.rows.map((r) => r.workload))].sort()).toEqual(['shop/early', 'shop/web']);
    expect(renderStatus(snapshot)).toContain('shop/web');
  });

  it('restarting containerd under running pods changes nothing shaped', async () => {
    const before = await shaping();
    const recorded = records();
    await node.bed.restart();
    expect((await node.bed.cri.listPodSandbox()).map((p) => p.name).sort()).toEqual(['early', 'web']);
    expect((await node.bed.status(pods.get('web')!.id)).state).toBe('SANDBOX_READY');
    const tick = await reconciler!.tick();
    expect(tick.operations).toBe(0);
    expect(await shaping()).toBe(before);
    expect(records()).toEqual(recorded);
  });

  it('restarting serve changes nothing shaped: the new one adopts what the old one made', async () => {
    const before = await shaping();
    await node.stopServe();
    await start();
    expect(reconciler!.current.lastTick).toMatchObject({ operations: 0, driftRepairs: 0 });
    expect(reconciler!.current.lastTick?.error).toBeUndefined();
    expect(await shaping()).toBe(before);
  });

  it('a policy file naming the pod overrides its annotations within a tick; removing the file restores them', async () => {
    const file = join(node.policyDir, 'web.yaml');
    writeFileSync(file, 'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: web-override }\nspec:\n  match: { pod: shop/web }\n  download: { guarantee: 40mbit, ceiling: 80mbit, priority: 1 }\n  upload: { guarantee: 20mbit, ceiling: 50mbit }\n');
    await until('the override in force', async () => /rate 40Mbit ceil 80Mbit/.test(await classes(NODE.bridge)) && /rate 20Mbit ceil 50Mbit/.test(await classes(NODE.ifb)));
    expect(await classes(NODE.bridge)).not.toMatch(/ceil 150Mbit/);
    rmSync(file);
    await until('the annotations again', async () => /rate 60Mbit ceil 150Mbit/.test(await classes(NODE.bridge)) && /rate 60Mbit ceil 100Mbit/.test(await classes(NODE.ifb)));
  });

  it("a pod that can never be shaped fails RunPodSandbox with the plugin's message (what the kubelet puts in its events); nothing is left of it", async () => {
    await expect(node.bed.runPod({ name: 'bad', namespace: 'shop', annotations: { 'sluice.dev/download-guarantee': 'lots' } })).rejects.toThrow(/plugin type="sluice" failed \(add\): pod shop\/bad: sluice\.dev\/download-guarantee "lots"/);
    expect((await node.bed.cri.listPodSandbox()).map((p) => p.name).sort()).toEqual(['early', 'web']);
    expect(records()).toHaveLength(2);
  });

  it('a valid pod that does not fit keeps running, not shaped: status and inspect say why, sluice_workload_unshaped counts it (promtool-clean)', async () => {
    // 5 + 60 guaranteed of 200: 150 more does not fit.
    const big = await run('big', { 'sluice.dev/download-guarantee': '150mbit', 'sluice.dev/upload-guarantee': '150mbit' });
    await until('big reported', async () => (await status()).unshaped.length > 0);
    expect((await node.bed.status(big.id)).state).toBe('SANDBOX_READY');
    expect(await shaped(big)).toBe(false);
    const { unshaped } = await status();
    expect(unshaped).toEqual([{ source: 'cni', workload: 'shop/big', reason: 'does-not-fit', detail: expect.stringContaining('download guarantee 150mbit does not fit') }]);
    expect(formatUnshaped(unshaped)).toContain('cni shop/big: does-not-fit');
    const inspected = await requestControl<{ container?: unknown; unshaped: UnshapedWorkload[] }>(node.controlSocket, { cmd: 'inspect', container: 'shop/big' });
    expect(inspected.container).toBeUndefined();
    expect(inspected.unshaped.map((u) => u.reason)).toEqual(['does-not-fit']);
    const text = await metrics.render();
    expect(text).toContain('sluice_workload_unshaped{reason="does-not-fit"} 1');
    expect(text).toContain('sluice_workload_unshaped{reason="invalid"} 0');
    expect(await promtool(text)).toBe('');
    // The pods admitted before it keep their guarantees.
    expect(await classes(NODE.bridge)).toMatch(/rate 60Mbit ceil 150Mbit/);
  });

  it("StopPodSandbox removes each pod's classes and filters and its record", async () => {
    for (const name of ['big', 'web']) {
      const pod = pods.get(name)!;
      await node.bed.removePod(pod.id);
      await until(`${name} unshaped`, async () => !(await shaped(pod)));
    }
    expect(await classes(NODE.bridge)).not.toMatch(/60Mbit/);
    expect(await sh('tc', ['-n', NODE.netns, 'filter', 'show', 'dev', NODE.bridge])).not.toContain(pods.get('web')!.ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(''));
    expect(records()).toHaveLength(1);
    await until('nothing unshaped', async () => (await status()).unshaped.length === 0);
    expect(await metrics.render()).toContain('sluice_workload_unshaped{reason="does-not-fit"} 0');
  });
});

/** promtool's complaints about an exposition (empty: clean). */
function promtool(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
    child.stdin.end(text);
  });
}
