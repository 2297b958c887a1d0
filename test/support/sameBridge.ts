// The negative control of same-bridge shaping, shared by its kernel test and its bench:
// a Sluice bridge's ports as they were before isolation (frames switched port to port).
import { execFileSync } from 'node:child_process';
import type { PlannedChange } from '../../src/apply/applier';
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
