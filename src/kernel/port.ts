// The kernel port: the only way the rest of Sluice reads or changes kernel state.
// One real implementation (netlink, src/kernel/netlink/) and, for unit tests of the
// pure core only, an in-memory fake.

import type { Plan, Operation } from '../tc/operation';
import type { KernelError } from '../errors';
import type { ExternalDevice, NetnsLocator, ObservedState } from '../tc/model';

export interface ObserveScope {
  /** Namespaces to dump (links, addresses, routes, qdiscs, classes, filters). */
  readonly netns: readonly NetnsLocator[];
  /**
   * Read TCA_STATS2 / HTB xstats too (costs a little more). Class counters are always
   * fresh; a port that reuses an unchanged namespace's objects may leave qdisc counters out.
   */
  readonly withStats: boolean;
  /**
   * Namespaces Sluice created and so owns entirely. In the others only devices named
   * `sl-…` (and what hangs off them) are Sluice's. Default: namespaces named `sl-…`.
   */
  readonly wholly?: readonly NetnsLocator[];
  /** Devices Sluice shapes without owning them (a Docker bridge), whatever their name. */
  readonly external?: readonly ExternalDevice[];
}

export interface ExecutionReport {
  /** Operations the kernel accepted, in order. */
  readonly applied: readonly Operation[];
  /** The first operation the kernel refused, and why. */
  readonly failed?: { readonly operation: Operation; readonly error: KernelError };
  /** Operations not applied: not attempted after the failure, or refused in the same batch. */
  readonly skipped: readonly Operation[];
}

export interface KernelPort {
  /** Dumps everything Sluice owns in the given namespaces (objects it does not own are left out). */
  observe(scope: ObserveScope): Promise<ObservedState>;
  /**
   * Executes the plan in order, batching requests; stops sending at the first refusal.
   * Requests already sent (the rest of that batch, other namespaces' batches in flight)
   * complete, and the report lists exactly which were applied.
   */
  execute(plan: Plan): Promise<ExecutionReport>;
  /**
   * Closes the sockets held in these namespaces: a socket keeps its namespace alive, so
   * a stopped Docker container's would outlive it. Reopened on next use.
   */
  release(netns: readonly NetnsLocator[]): void;
  /** Releases sockets. */
  close(): Promise<void>;
}
