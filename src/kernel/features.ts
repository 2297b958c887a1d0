// What this kernel can do, found by trying: each leaf qdisc kind and a cls_bpf filter are
// added on an IFB in a throwaway namespace, which is then removed. /proc cannot answer
// this reliably (modules load on demand, so a kind absent from /proc may still work).

import type { KernelFeatures } from '../compile/features';
import { makeHandle, TC_H_CLSACT, TC_H_ROOT } from '../tc/handle';
import { ETH_P_ALL, type KernelObject, type QdiscKind, type QdiscSpec } from '../tc/model';
import { bitsPerSec, bytes } from '../units/units';
import * as native from './native';
import type { NetlinkChannelFactory } from './netlink/channel';
import { openNetlinkKernel } from './netlink/kernel';

/** Leaf kinds Sluice can put under an HTB class, in order of preference. */
const LEAF_PROBES: readonly QdiscSpec[] = [
  { kind: 'fq_codel' },
  { kind: 'sfq', perturbSec: 10 },
  { kind: 'pfifo', limitPackets: 1000 },
  { kind: 'bfifo', limitBytes: bytes(1_000_000) },
  { kind: 'tbf', rate: bitsPerSec(1e6), burst: bytes(10_000), limitBytes: bytes(100_000) },
];

/**
 * `netns` is a name for the throwaway namespace (it must start with `sl-` and not exist);
 * it is created and always deleted again.
 */
export async function detectFeatures(netns: string, options?: { factory?: NetlinkChannelFactory }): Promise<KernelFeatures> {
  const port = await openNetlinkKernel(options);
  const dev = 'sl-probe';
  try {
    const setup = await port.execute([
      { op: 'create', object: { type: 'namespace', name: netns } },
      { op: 'create', object: { type: 'link', netns, name: dev, up: true, spec: { kind: 'ifb' } } },
    ]);
    if (setup.failed) throw setup.failed.error;
    const leafQdiscs: QdiscKind[] = [];
    for (const spec of LEAF_PROBES) {
      const q: KernelObject = { type: 'qdisc', netns, dev, handle: makeHandle(0x10, 0), parent: TC_H_ROOT, spec };
      const r = await port.execute([{ op: 'create', object: q }, { op: 'delete', object: q }]);
      if (!r.failed) leafQdiscs.push(spec.kind);
    }
    return { leafQdiscs, clsBpf: await probeClsBpf(port, netns, dev) };
  } finally {
    await port.close();
    native.deleteNetns(netns);
  }
}

async function probeClsBpf(port: Awaited<ReturnType<typeof openNetlinkKernel>>, netns: string, dev: string): Promise<boolean> {
  const clsact: KernelObject = { type: 'qdisc', netns, dev, handle: makeHandle(0xffff, 0), parent: TC_H_CLSACT, spec: { kind: 'clsact' } };
  const filter: KernelObject = {
    type: 'filter', netns, dev, parent: makeHandle(0xffff, 0xfff3), prio: 1, protocol: ETH_P_ALL, handle: 1,
    spec: { kind: 'bpf', program: 'netcls-classid', directAction: true },
  };
  try {
    const r = await port.execute([{ op: 'create', object: clsact }, { op: 'create', object: filter }]);
    return r.failed === undefined;
  } catch {
    // Loading the program itself failed (no BPF in this kernel): no cls_bpf for Sluice.
    return false;
  }
}
