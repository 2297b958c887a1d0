// Same-bridge shaping in kernel tests: the negative control shared by its kernel test and
// its bench (a Sluice bridge's ports as they were before isolation: frames switched port to
// port), and one flow between two containers as the tests measure it.
import { execFileSync } from 'node:child_process';
import type { PlannedChange } from '../../src/apply/applier';
import { killAllLoadgens, startLoadgenSender, startLoadgenServer, type LoadgenChild } from '../../src/loadgen/driver';
import { monotonicMs } from '../../src/loadgen/protocol';
import { steadyRate } from '../../src/measure';
import type { KernelState } from '../../src/tc/model';

/**
 * The desired state with every port switched: isolation off, and the bridge's proxy ARP
 * back onto the asking port off too (else the bridge still answers for the other
 * container, racing its own answer).
 */
export const switchedPorts = (p: PlannedChange): KernelState => ({
  ...p.compiled.state,
  links: p.compiled.state.links.map((l) => (l.isolated ? { ...l, isolated: false } : l)),
  sysctls: p.compiled.state.sysctls.map((s) => (s.key.endsWith('.proxy_arp_pvlan') ? { ...s, value: '0' } : s)),
});

/**
 * Forgets the containers' neighbour entries: after a switch between routed and switched
 * ports they still name the old next hop's MAC (the bridge's, or the other container's),
 * so frames keep the old path until the entries expire.
 */
export function forgetNeighbours(netns: readonly string[]): void {
  for (const ns of netns) execFileSync('ip', ['-n', ns, 'neigh', 'flush', 'all']);
}

/** One end of a flow between two containers: its namespace and its address (either family). */
export interface FlowEnd {
  readonly netns: string;
  readonly address: string;
}

const FLOW_PORT = 5471;
const FLOW_WARMUP_MS = 1000;

/** One TCP flow from one container to another, alone, for `seconds`: the receiver's goodput in Mbit/s. */
export async function flowBetween(from: FlowEnd, to: FlowEnd, seconds: number): Promise<number> {
  const children: LoadgenChild[] = [];
  const id = `${from.address}-${to.address}`;
  try {
    const server = await startLoadgenServer({ netns: to.netns, listen: { host: to.address, port: FLOW_PORT } });
    children.push(server);
    children.push(await startLoadgenSender({ netns: from.netns, to: { host: to.address, port: FLOW_PORT }, bind: from.address, id }));
    const start = monotonicMs();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return steadyRate(server.samples(id), { fromMs: start, toMs: monotonicMs(), warmupMs: FLOW_WARMUP_MS }) / 1e6;
  } finally {
    await Promise.all(children.map((c) => c.stop(500).catch(() => null)));
    killAllLoadgens();
  }
}
