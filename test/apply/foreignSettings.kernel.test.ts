// Devices Sluice shapes or passes traffic through but did not create keep their owners'
// settings: a CNI-style bridge (with a container's veth on it) and a veth standing for
// the node's NIC (there is no dummy driver here) keep their GSO/GRO sizes and offloads
// through apply, the daemon's ticks (full reads included) and destroy. A GSO cap Sluice
// once put on such a bridge made the kernel segment every forwarded 64 KiB packet in
// software (issue #25): download ran at 0.32× of the unshaped path.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Applier } from '../../src/apply/applier';
import { detectFeatures } from '../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { systemClock } from '../../src/ports/clock';
import { silentLogger } from '../../src/ports/logger';
import { MemoryOwnershipStore } from '../../src/ports/ownership';
import { Reconciler } from '../../src/reconcile/reconciler';
import { nativeProbe } from '../../src/wiring/runtime';
import { describeKernel, removeNamespaces, sh } from '../support/kernel';
import { makeExternalBridge } from '../support/ownership';

const HOST = 'sl-fs-host';
const PEER = 'sl-fs-peer';
const BRIDGE = 'fs-br0';
const NIC = 'fs-nic';
/** The containers' veths on the bridge, as a CNI bridge plugin names its own. */
const PORTS = [
  { netns: 'sl-fs-c0', veth: 'fs-veth0', address: '198.18.0.10' },
  { netns: 'sl-fs-c1', veth: 'fs-veth1', address: '198.18.0.11' },
] as const;
const SIZES = ['gso_max_size', 'gso_max_segs', 'gro_max_size', 'tso_max_size', 'tso_max_segs', 'gso_ipv4_max_size', 'gro_ipv4_max_size'] as const;

const policy: Policy = (() => {
  const container = (p: (typeof PORTS)[number], i: number): string => `apiVersion: sluice.dev/v1
kind: Container
metadata: { name: c${i} }
spec: { match: { ip: ${p.address} }, download: { guarantee: ${100 * (i + 1)}mbit }, upload: { guarantee: ${100 * (i + 1)}mbit } }
`;
  const text = [
    `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: fs }
spec: { netns: /run/netns/${HOST}, bridge: ${BRIDGE}, ifb: sl-fs-ifb, subnet: 198.18.0.0/24, external: true, capacity: { download: 1gbit, upload: 1gbit } }
`,
    ...PORTS.map(container),
  ].join('---\n');
  const r = parsePolicyTexts([{ path: 'fs.yaml', text }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
})();

/** A container's namespace with its veth on the bridge, as the bridge plugin's ADD leaves it. */
async function plugIn(p: (typeof PORTS)[number]): Promise<void> {
  await sh('ip', ['netns', 'add', p.netns]);
  await sh('ip', ['-n', HOST, 'link', 'add', p.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns]);
  await sh('ip', ['-n', HOST, 'link', 'set', p.veth, 'master', BRIDGE, 'up']);
  await sh('ip', ['-n', p.netns, 'addr', 'add', `${p.address}/24`, 'dev', 'eth0']);
  await sh('ip', ['-n', p.netns, 'link', 'set', 'eth0', 'up']);
}

/** Each device's size limits (`ip -d`) and offloads (`ethtool -k`), one line per device and kind. */
async function settings(devs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dev of devs) {
    const [link] = JSON.parse(await sh('ip', ['-n', HOST, '-d', '-j', 'link', 'show', 'dev', dev])) as Record<string, unknown>[];
    out.push(`${dev}: ${SIZES.map((k) => `${k} ${String(link![k])}`).join(', ')}`);
    const offloads = (await sh('nsenter', [`--net=/run/netns/${HOST}`, 'ethtool', '-k', dev])).split('\n').filter((l) => /: (on|off)/.test(l));
    out.push(`${dev}: ${offloads.map((l) => l.trim()).join('; ')}`);
  }
  return out;
}

describeKernel("devices Sluice did not create keep their owners' GSO/GRO sizes and offloads", ['nsenter', 'ethtool'], () => {
  let kernel: RtnlKernel;
  let following: RtnlKernel;

  beforeAll(async () => {
    await removeNamespaces('sl-fs-');
    kernel = new RtnlKernel();
    // A full read every other tick: a change the kernel does not announce (a GSO size) is seen too.
    following = new RtnlKernel({ followChanges: true, resyncEvery: 2 });
    await makeExternalBridge(HOST, BRIDGE, '198.18.0.1/24');
    await plugIn(PORTS[0]);
    await sh('ip', ['netns', 'add', PEER]);
    await sh('ip', ['-n', HOST, 'link', 'add', NIC, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', PEER]);
    await sh('ip', ['-n', HOST, 'addr', 'add', '198.18.255.1/30', 'dev', NIC]);
    await sh('ip', ['-n', HOST, 'link', 'set', NIC, 'up']);
    // The owners' choices, away from every default, so that a reset shows as well as a cap.
    await sh('ip', ['-n', HOST, 'link', 'set', NIC, 'gso_max_size', '61000', 'gro_max_size', '62000']);
    await sh('nsenter', [`--net=/run/netns/${HOST}`, 'ethtool', '-K', NIC, 'gro', 'on', 'tso', 'off']);
    await sh('ip', ['-n', HOST, 'link', 'set', PORTS[0].veth, 'gso_max_size', '63000', 'gro_max_size', '60000']);
    await sh('ip', ['-n', HOST, 'link', 'set', BRIDGE, 'gso_max_size', '59000', 'gro_max_size', '58000']);
  });

  afterAll(async () => {
    await kernel?.close();
    await following?.close();
    await removeNamespaces('sl-fs-');
  });

  it('through apply, serve ticks with a container joining, and destroy', async () => {
    const features = await detectFeatures();
    const store = new MemoryOwnershipStore();
    const devices = [BRIDGE, NIC, PORTS[0].veth];
    const before = await settings(devices);

    const applied = await new Applier(kernel, store, nativeProbe, features).apply(policy);
    expect(applied.report.failed).toBeUndefined();
    expect(await sh('tc', ['-n', HOST, 'qdisc', 'show', 'dev', BRIDGE])).toMatch(/htb/);
    expect(await settings(devices)).toEqual(before);

    // A second container joins, as a runtime's ADD does: the kernel recomputes the bridge's
    // GSO limits from its ports. That is the owner's (and the kernel's) business, not drift.
    await plugIn(PORTS[1]);
    const joined = await settings([...devices, PORTS[1].veth]);
    const reconciler = new Reconciler(new Applier(following, store, nativeProbe, features), systemClock, silentLogger);
    reconciler.setPolicy(policy);
    for (let i = 0; i < 5; i++) {
      const tick = await reconciler.tick();
      expect(tick.error).toBeUndefined();
      expect(tick.driftRepairs).toBe(0);
    }
    expect(await settings([...devices, PORTS[1].veth])).toEqual(joined);

    const destroyed = await new Applier(kernel, store, nativeProbe, features).destroy(policy.host.name, policy);
    expect(destroyed.report.failed).toBeUndefined();
    expect(await sh('tc', ['-n', HOST, 'qdisc', 'show', 'dev', BRIDGE])).not.toMatch(/htb/);
    expect(await settings([...devices, PORTS[1].veth])).toEqual(joined);
  });
});
