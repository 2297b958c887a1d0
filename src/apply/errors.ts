import { SluiceError } from '../errors';
import type { ExecutionReport } from '../kernel/port';
import { describeOperation } from '../plan/format';

/** The kernel refused part of a plan: what was applied, what failed and why, what was skipped. */
export class ExecutionFailedError extends SluiceError {
  readonly code = 'EAPPLY';
  constructor(readonly action: string, readonly report: ExecutionReport) {
    super(
      `${action}: the kernel refused "${report.failed ? describeOperation(report.failed.operation) : '?'}": ${report.failed?.error.message ?? ''}\n` +
        `  ${report.applied.length} operation(s) applied, ${report.skipped.length} not attempted`,
      report.failed?.error.hint ?? 'fix the cause and run it again: the next run continues from what is there',
    );
  }
}
