import { SluiceError } from '../errors';
import type { ExecutionReport } from '../kernel/port';
import { describeObject, describeOperation } from '../plan/format';
import type { ForeignConflict } from './ownership';

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

/** The policy needs more ports on Sluice's bridge than a Linux bridge has: refused before any change. */
export class BridgeFullError extends SluiceError {
  readonly code = 'EBRIDGEFULL';
  constructor(readonly host: string, readonly bridge: string, readonly needed: number, readonly limit: number) {
    super(
      `apply to host ${host} refused before any change: ${needed} containers need a port on bridge ${bridge}, and a Linux bridge holds at most ${limit}`,
      `split the containers over two Hosts (each with its own namespace and bridge), or match some by ip: on a bridge Sluice does not create`,
    );
  }
}

/**
 * The plan would create over, or change, objects Sluice did not create (they are not in
 * its ownership record): refused before any change is sent.
 */
export class ForeignObjectError extends SluiceError {
  readonly code = 'EFOREIGN';
  constructor(readonly host: string, readonly conflicts: readonly ForeignConflict[]) {
    const shown = conflicts.slice(0, 5).map(describeConflict);
    const more = conflicts.length > shown.length ? `\n  … and ${conflicts.length - shown.length} more` : '';
    super(`apply to host ${host} refused before any change: Sluice did not create ${conflicts.length === 1 ? 'this object' : 'these objects'} (not in its ownership record)\n  ${shown.join('\n  ')}${more}`, hintFor(conflicts));
  }
}

function describeConflict(c: ForeignConflict): string {
  switch (c.reason) {
    case 'exists':
      return `${describeObject(c.object)} already exists`;
    case 'differs':
      return `${describeObject(c.object)} would be changed`;
    case 'other-kind':
      return `${describeObject(c.object)} already exists and is not a${c.wanted === 'ifb' ? 'n' : ''} ${c.wanted}: the policy names it as its ${c.wanted}, and Sluice would have to delete it to create one`;
    default: {
      const never: never = c;
      return String(never);
    }
  }
}

function hintFor(conflicts: readonly ForeignConflict[]): string {
  const otherKind = conflicts.find((c) => c.reason === 'other-kind');
  if (otherKind) {
    const name = otherKind.object.name;
    if (otherKind.wanted === 'ifb') return `write another name in the Host's spec.ifb (one that does not exist yet, or an IFB Sluice created): Sluice never deletes ${name}`;
    return `write another name in the Host's spec.bridge (one that does not exist yet, or a bridge Sluice created): Sluice never deletes ${name}. To shape a bridge another tool made, name that bridge and set \`external: true\` in the Host`;
  }
  const bridge = conflicts.find((c) => c.object.type === 'link' && c.object.spec.kind === 'bridge');
  if (bridge) {
    return 'a bridge someone else made is shaped but never created, re-addressed or deleted when the Host declares it external (today: spec.docker for a Docker bridge); or name another bridge in the Host, or remove this one if it is left over';
  }
  if (conflicts.some((c) => c.object.type === 'namespace' || c.object.type === 'link')) {
    return 'another tool (or another Sluice host) made it: choose other names in the policy, or remove it if it is left over (`ip netns del` / `ip link del`); `sluice destroy` removes only what Sluice recorded';
  }
  return 'another tool put this object where the policy needs its own: remove it, or leave that device out of the policy';
}
