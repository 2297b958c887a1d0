// An Applier without a kernel for the Reconciler's tick bookkeeping: it writes down the
// policy each tick and change was given, and holds ticks at a gate the test opens. Every
// tick then fails (no observation to build a snapshot from): a failed tick is still a
// tick, stamped in lastTick, which is all these tests read.
import type { Applier, ApplyOutcome, ChangeOutcome } from '../../src/apply/applier';
import type { Policy } from '../../src/policy/model';

export interface GatedApplier {
  readonly applier: Applier;
  /** The policy each tick read, in order. */
  readonly ticked: Policy[];
  /** The policy each change applied, in order. */
  readonly changed: Policy[];
  /** Holds every tick from now until open(). */
  hold(): void;
  open(): void;
}

export function gatedApplier(): GatedApplier {
  const ticked: Policy[] = [];
  const changed: Policy[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = (): void => undefined;
  const fake = {
    apply: async (policy: Policy): Promise<ApplyOutcome> => {
      ticked.push(policy);
      await gate;
      throw new Error('the gated applier observes nothing');
    },
    applyChange: async (policy: Policy): Promise<ChangeOutcome> => {
      changed.push(policy);
      return { kind: 'applied', plan: [], report: { applied: [], skipped: [] } };
    },
  };
  return {
    applier: fake as unknown as Applier,
    ticked,
    changed,
    hold: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    open: () => open(),
  };
}
