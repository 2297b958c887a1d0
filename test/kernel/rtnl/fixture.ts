// A small but complete shared-mode tree in two namespaces, for the kernel port tests.
import { makeHandle, TC_H_INGRESS, TC_H_ROOT } from '../../../src/tc/handle';
import { emptyKernelState, ETH_P_ALL, ETH_P_IP, type ClassObject, type KernelState } from '../../../src/tc/model';
import { bitsPerSec, bytes } from '../../../src/units/units';
import { Applier } from '../../../src/apply/applier';
import type { NetlinkChannelFactory } from '../../../src/kernel/netlink/channel';
import { detectFeatures } from '../../../src/kernel/rtnl/features';
import { RtnlKernel } from '../../../src/kernel/rtnl/port';
import { MemoryOwnershipStore } from '../../../src/ports/ownership';
import { nativeProbe } from '../../../src/wiring/runtime';
import { deleteNetns, listNetns } from '../../../src/kernel/native';

export const A = 'sl-kt-a';
export const B = 'sl-kt-b';
export const u32 = (table: number, bucket: number, node: number) => ((table << 20) | (bucket << 12) | node) >>> 0;

export function desiredState(rate = 20e6): KernelState {
  const s = emptyKernelState();
  const cls = (minor: number, r: number, prio: number): ClassObject => ({
    type: 'class', netns: A, dev: 'sl-br', classid: makeHandle(1, minor), parent: makeHandle(1, minor === 1 ? 0 : 1),
    spec: { kind: 'htb', rate: bitsPerSec(r), ceil: bitsPerSec(100e6), burst: bytes(3200), cburst: bytes(12500), prio, quantum: bytes(20000) },
  });
  return {
    ...s,
    namespaces: [{ type: 'namespace', name: A }, { type: 'namespace', name: B }],
    links: [
      { type: 'link', netns: A, name: 'sl-br', up: true, spec: { kind: 'bridge' } },
      { type: 'link', netns: A, name: 'sl-ifb', up: true, spec: { kind: 'ifb' } },
      { type: 'link', netns: A, name: 'sl-v', up: true, master: 'sl-br', gsoMaxSize: 16384, spec: { kind: 'veth', peerName: 'eth0', peerNetns: B } },
      { type: 'link', netns: B, name: 'eth0', up: true, gsoMaxSize: 16384, spec: { kind: 'veth', peerName: 'sl-v', peerNetns: A } },
      { type: 'link', netns: B, name: 'lo', up: true, spec: { kind: 'external' } },
    ],
    addresses: [
      { type: 'address', netns: A, dev: 'sl-br', cidr: '198.18.11.1/24' },
      { type: 'address', netns: B, dev: 'eth0', cidr: '198.18.11.2/24' },
    ],
    routes: [{ type: 'route', netns: B, dst: '198.18.12.0/24', via: '198.18.11.1', dev: 'eth0' }],
    qdiscs: [
      { type: 'qdisc', netns: A, dev: 'sl-br', handle: makeHandle(1, 0), parent: TC_H_ROOT, spec: { kind: 'htb', defaultMinor: 2, r2q: 10 } },
      { type: 'qdisc', netns: A, dev: 'sl-br', handle: makeHandle(0x10, 0), parent: makeHandle(1, 0x10), spec: { kind: 'pfifo', limitPackets: 1000 } },
      { type: 'qdisc', netns: A, dev: 'sl-br', handle: makeHandle(0xffff, 0), parent: TC_H_INGRESS, spec: { kind: 'ingress' } },
      { type: 'qdisc', netns: A, dev: 'sl-ifb', handle: makeHandle(1, 0), parent: TC_H_ROOT, spec: { kind: 'htb', defaultMinor: 2, r2q: 10 } },
    ],
    classes: [cls(1, 100e6, 0), cls(2, 1e6, 7), cls(0x10, rate, 1)],
    filters: [
      { type: 'filter', netns: A, dev: 'sl-br', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: u32(2, 0, 0), spec: { kind: 'u32', divisor: 256, keys: [] } },
      { type: 'filter', netns: A, dev: 'sl-br', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: u32(2, 2, 1), spec: { kind: 'u32', keys: [{ value: 0xc6120b02, mask: 0xffffffff, off: 16 }], classid: makeHandle(1, 0x10) } },
      { type: 'filter', netns: A, dev: 'sl-br', parent: makeHandle(1, 0), prio: 10, protocol: ETH_P_IP, handle: u32(0x800, 0, 0x800), spec: { kind: 'u32', keys: [{ value: 0xc6120b00, mask: 0xffffff00, off: 16 }], link: u32(2, 0, 0), hashKey: { mask: 0xff, off: 16 } } },
      { type: 'filter', netns: A, dev: 'sl-br', parent: makeHandle(0xffff, 0), prio: 1, protocol: ETH_P_ALL, handle: u32(0x800, 0, 0x800), spec: { kind: 'u32', keys: [{ value: 0, mask: 0, off: 0 }], actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: 'sl-ifb' }] } },
      { type: 'filter', netns: A, dev: 'sl-ifb', parent: makeHandle(1, 0), prio: 5, protocol: ETH_P_ALL, handle: 1, spec: { kind: 'bpf', program: 'netcls-classid', directAction: false } },
    ],
  };
}

/**
 * For the fixture recorders (run as scripts, root, under the kernel lock): applies
 * `state` in sl-kt-a/b, runs `body` with the kernel (its channels from `factory`, if
 * given), and removes everything, also when `body` fails.
 */
export async function withTestTree(state: KernelState, body: (kernel: RtnlKernel) => Promise<void>, factory?: NetlinkChannelFactory): Promise<void> {
  // Not test/support/kernel's removeNamespaces: these run as scripts, where vitest cannot be loaded.
  const removeNamespaces = (prefix: string): void => listNetns().filter((n) => n.startsWith(prefix)).forEach((n) => deleteNetns(n));
  removeNamespaces('sl-kt-');
  const kernel = new RtnlKernel(factory ? { factory } : {});
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  try {
    const { report } = await applier.converge(state, [A, B]);
    if (report.failed) throw new Error(`applying the tree failed: ${report.failed.error.message}`);
    await body(kernel);
  } finally {
    await applier.converge(emptyKernelState(), [A, B]).catch(() => undefined);
    await kernel.close();
    removeNamespaces('sl-kt-');
  }
}

/** A recorder script's entry: failures printed, exit status 1. */
export function runRecorder(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
