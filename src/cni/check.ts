// CHECK: is the pod's shaping in the kernel? Read from the kernel itself, not asked of
// the daemon, so the answer is the same whether `serve` runs or not: a pod whose
// classes or address filters are gone fails, and one the daemon has not shaped yet
// (down, or the policy refused it) fails too. The plugin runs in the namespace of the
// bridge (the runtime's), which is where the daemon's Host shapes it.

import { openRtnlKernel } from '../kernel/rtnl/port';
import { ipToInt } from '../net/ipv4';
import { HOST_NETNS, type KernelState } from '../tc/model';
import type { Attachment } from './attachment';

/** IPv4 header offsets the address filters match (src/compile/trees.ts). */
const SRC_OFFSET = 12;
const DST_OFFSET = 16;

export async function missingShaping(a: Attachment): Promise<string[]> {
  if (!a.bridge) return [`the attachment names no bridge (the earlier plugins reported no host veth on a bridge)`];
  const kernel = await openRtnlKernel();
  try {
    const state = await kernel.observe({ netns: [HOST_NETNS], withStats: false, external: [{ netns: HOST_NETNS, dev: a.bridge }] });
    return shapingProblems(state, a.bridge, a.addresses);
  } finally {
    await kernel.close();
  }
}

/**
 * What is missing for each IPv4 address: a u32 filter on the bridge (download, by
 * destination) and on the IFB its ingress is redirected to (upload, by source), each
 * sending to an HTB class that exists. Pure.
 */
export function shapingProblems(state: KernelState, bridge: string, addresses: readonly string[]): string[] {
  const ipv4 = addresses.filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  if (ipv4.length === 0) return ['the pod has no IPv4 address (Sluice classifies IPv4)'];
  const ifb = redirectTarget(state, bridge);
  const problems: string[] = [];
  if (!ifb) problems.push(`no redirect of ${bridge}'s ingress to an IFB (upload is not shaped)`);
  for (const address of ipv4) {
    if (!classified(state, bridge, address, DST_OFFSET)) problems.push(`no download class for ${address} on ${bridge}`);
    if (ifb && !classified(state, ifb, address, SRC_OFFSET)) problems.push(`no upload class for ${address} on ${ifb}`);
  }
  return problems;
}

function redirectTarget(state: KernelState, bridge: string): string | undefined {
  for (const f of state.filters) {
    if (f.dev !== bridge || f.spec.kind !== 'u32') continue;
    for (const action of f.spec.actions ?? []) if (action.kind === 'mirred') return action.targetDev;
  }
  return undefined;
}

function classified(state: KernelState, dev: string, address: string, off: number): boolean {
  const value = ipToInt(address) >>> 0;
  for (const f of state.filters) {
    if (f.dev !== dev || f.spec.kind !== 'u32' || f.spec.classid === undefined) continue;
    const classid = f.spec.classid;
    const matches = f.spec.keys.some((k) => k.off === off && k.mask >>> 0 === 0xffffffff && k.value >>> 0 === value);
    if (matches && state.classes.some((c) => c.dev === dev && c.classid === classid)) return true;
  }
  return false;
}
