// cgroup classid: a host-network process placed in the workload's net_cls cgroup sends
// traffic from the sandbox host namespace; its packets are counted and shaped in the
// workload's class (BPF classifier reading the socket's classid), while another process
// outside the cgroup stays out of that class.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { nativeProbe } from '../../src/wiring/runtime';
import { netclsRoot } from '../../src/kernel/cgroup';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { loadgenCommandLine, startLoadgenSender, startLoadgenServer } from '../../src/loadgen/driver';
import { steadyRate } from '../../src/measure/rate';
import { parsePolicyTexts } from '../../src/policy/load';
import { objectKey } from '../../src/tc/identity';
import { describeKernel, removeNamespaces } from '../support/kernel';

const rename = (t: string) => t.replace(/name: demo\b/, 'name: cg-demo').replace(/\bsl-(host|web|api|batch|backup|agent)\b/g, 'sl-cg-$1');
const files = ['policies/demo.yaml', 'policies/host-agent.yaml'].map((path) => ({ path, text: rename(readFileSync(path, 'utf8')) }));
const parsed = parsePolicyTexts(files);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const policy = parsed.policy;

/** Runs the loadgen sender from inside the cgroup: it joins before its socket exists. */
function senderInCgroup(cgroupDir: string, args: readonly string[]) {
  const [cmd, ...rest] = loadgenCommandLine('sl-cg-host', args);
  const quoted = [cmd, ...rest].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return spawn('sh', ['-c', `echo $$ > ${cgroupDir}/cgroup.procs && exec ${quoted} --no-stdin`], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describeKernel('cgroup classid: host-network workloads', [], () => {
  let kernel: RtnlKernel;
  let applier: Applier;

  beforeAll(async () => {
    await removeNamespaces('sl-cg-');
    kernel = new RtnlKernel();
    applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
    const applied = await applier.apply(policy);
    expect(applied.report.failed).toBeUndefined();
  });

  afterAll(async () => {
    await applier.destroy(policy.host.name, policy).catch(() => undefined);
    await kernel.close();
    await removeNamespaces('sl-cg-');
  });

  it('cgroup classid: traffic from a process in the cgroup is counted and shaped in its class; another process is not', async () => {
    const root = netclsRoot();
    expect(root).toBeDefined();
    const cgroupDir = join(root!, 'sl-cg-agent');
    const classid = Number(readFileSync(join(cgroupDir, 'net_cls.classid'), 'utf8'));
    const planned = await applier.plan(policy, true);
    const agent = planned.compiled.containers.find((c) => c.name === 'agent')!;
    expect(classid).toBe(agent.classes.download!.classid >>> 0);
    const agentClass = planned.observed.classes.find((c) => c.dev === 'sl-br0' && c.classid === agent.classes.download!.classid)!;
    const before = planned.observed.stats.get(objectKey(agentClass))!.bytes;

    const server = await startLoadgenServer({ netns: 'sl-cg-web', listen: { host: '198.18.0.10', port: 5401 } });
    const inside = senderInCgroup(cgroupDir, ['send', '--to', '198.18.0.10:5401', '--id', 'agent', '--duration', '4']);
    const outside = await startLoadgenSender({ netns: 'sl-cg-host', to: { host: '198.18.0.10', port: 5401 }, id: 'other', durationS: 4 });
    try {
      await Promise.all([new Promise((r) => inside.on('exit', r)), outside.exited]);
      await server.waitFor('closed', (e) => e.id === 'agent', 5000);
      await server.waitFor('closed', (e) => e.id === 'other', 5000);
    } finally {
      await server.stop(500);
    }
    const agentRate = steadyRate(server.samples('agent'), { warmupMs: 1000 });
    const otherRate = steadyRate(server.samples('other'), { warmupMs: 1000 });
    const after = (await kernel.observe({ netns: ['sl-cg-host'], withStats: true })).stats.get(objectKey(agentClass))!.bytes;
    const classBytes = after - before;
    const agentBytes = server.latestBytes('agent');
    console.log(`agent (in cgroup): ${(agentRate / 1e6).toFixed(2)} mbit/s goodput, class counted ${classBytes} bytes for ${agentBytes} payload bytes; other process: ${(otherRate / 1e6).toFixed(2)} mbit/s`);
    // Counted in its class: the class saw the agent's bytes (plus headers), not the other's.
    expect(classBytes).toBeGreaterThan(agentBytes);
    expect(classBytes).toBeLessThan(agentBytes * 1.1);
    // Shaped: the agent's ceiling towards containers is 10 mbit; the other process is not held to it.
    expect(agentRate).toBeLessThan(10.5e6);
    expect(otherRate).toBeGreaterThan(2 * agentRate);
  }, 60_000);
});
