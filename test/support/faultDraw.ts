// The fault injector's draws (test/apply/faults.kernel.test.ts): per seed and host, the
// faults and what follows each. Pure.

/**
 * How an injected fault goes: the kernel refuses the operation; the kernel applies it and
 * then reports an error anyway (a reply lost, a timeout after the change); or the
 * process dies just after writing its ownership record, before sending anything.
 */
export const FAULT_KINDS = ['refused', 'applied-then-error', 'crash-after-record'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What follows the fault, in a new process: destroy, or apply again and then destroy. */
export const FOLLOW_UPS = ['destroy', 'reapply'] as const;

/** Seeds 1–5: 20 faults at drawn positions (both kinds with both hosts) and 10 crashes (test/support/faultDraw.test.ts). */
export const FIXED_FAULT_SEEDS = [1, 2, 3, 4, 5];

export type Fault = { readonly kind: 'crash-after-record' } | { readonly kind: Exclude<FaultKind, 'crash-after-record'>; /** 1-based, of `total`. */ readonly at: number };

export interface FaultCase {
  readonly fault: Fault;
  readonly then: (typeof FOLLOW_UPS)[number];
}

/**
 * A seed's faults on one host whose plan has `total` operations: a refusal or an
 * applied-then-failed operation at a drawn position before each follow-up, then a crash
 * just after the record is written, followed by destroy for an even seed and by a
 * re-apply for an odd one.
 */
export function drawFaults(random: () => number, total: number, seed: number): FaultCase[] {
  const positional = FOLLOW_UPS.map((then): FaultCase => {
    const kind = random() < 0.5 ? 'refused' : 'applied-then-error';
    return { fault: { kind, at: 1 + Math.floor(random() * total) }, then };
  });
  return [...positional, { fault: { kind: 'crash-after-record' }, then: FOLLOW_UPS[seed % 2]! }];
}

export function describeFault(fault: Fault, total: number): string {
  switch (fault.kind) {
    case 'crash-after-record':
      return 'the process dies just after writing its record';
    case 'refused':
      return `operation ${fault.at} of ${total} is refused`;
    case 'applied-then-error':
      return `operation ${fault.at} of ${total} is applied, then reported failed`;
    default: {
      const never: never = fault;
      return String(never);
    }
  }
}
