// The capabilities Sluice uses, and which of them this process lacks. Root alone is not
// enough to know: a systemd unit's CapabilityBoundingSet= or a container's securityContext
// can leave root without some, and the kernel then answers only EPERM.
//
//   CAP_NET_ADMIN    every link, address, route, qdisc, class and filter; a namespace's sysctls
//   CAP_SYS_ADMIN    creating and entering network namespaces (unshare, setns), bind-mounting
//                    /run/netns/<name>, mounting net_cls, loading the BPF classifier
//   CAP_SYS_PTRACE   match: { pid }: opening /proc/<pid>/ns/net of a process that has
//                    capabilities Sluice lacks is a ptrace access check
//   CAP_DAC_OVERRIDE match: { cgroup }: creating a cgroup under the net_cls root (mode 0555)

import { readFileSync } from 'node:fs';

export const CAPABILITY_BITS = { CAP_DAC_OVERRIDE: 1, CAP_NET_ADMIN: 12, CAP_SYS_PTRACE: 19, CAP_SYS_ADMIN: 21 } as const;
export type Capability = keyof typeof CAPABILITY_BITS;

/** What every command that writes to the kernel needs, whatever its policy matches. */
export const ALWAYS_NEEDED: readonly Capability[] = ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'];

/** The effective set from a /proc/<pid>/status text (CapEff, hex); undefined when absent. */
export function effectiveSet(status: string): bigint | undefined {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

/** Those of `needed` not in `effective`. */
export const lacking = (needed: readonly Capability[], effective: bigint): Capability[] => needed.filter((c) => ((effective >> BigInt(CAPABILITY_BITS[c])) & 1n) === 0n);

/** Those of `needed` this process lacks (none when its status cannot be read: the kernel will say). */
export function lackingHere(needed: readonly Capability[]): Capability[] {
  let effective: bigint | undefined;
  try {
    effective = effectiveSet(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    effective = undefined;
  }
  return effective === undefined ? [] : lacking(needed, effective);
}
