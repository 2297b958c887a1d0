// Helpers for the ownership kernel tests: a kernel port that fails the Nth operation (or
// applies it and then reports a failure), an ownership store after whose write the
// process "dies", a host whose bridge someone else made, and what is left.
import { KernelError } from '../../src/errors';
import type { ExecutionReport, KernelPort, ObserveScope } from '../../src/kernel/port';
import type { Plan } from '../../src/tc/operation';
import type { Policy } from '../../src/policy/model';
import type { OwnershipRecord, OwnershipStore } from '../../src/ports/ownership';
import type { NetnsLocator, ObservedState } from '../../src/tc/model';
import type { FaultKind } from './faultDraw';
import { netnsList, sh } from './kernel';
import { demoPolicyFor } from './policy';

/** What "the process died" looks like to the test: the Applier that met it is dropped. */
export class InjectedCrash extends Error {
  constructor() {
    super('injected crash: the process died just after writing its ownership record');
  }
}

/** A store whose first write lands (synced, as the real one) and then the process dies. */
export class CrashAfterWriteStore implements OwnershipStore {
  private crashed = false;
  constructor(private readonly real: OwnershipStore) {}

  read(host: string): Promise<OwnershipRecord | undefined> {
    return this.real.read(host);
  }

  async write(record: OwnershipRecord): Promise<void> {
    await this.real.write(record);
    if (!this.crashed) {
      this.crashed = true;
      throw new InjectedCrash();
    }
  }

  list(): Promise<OwnershipRecord[]> {
    return this.real.list();
  }

  remove(host: string): Promise<void> {
    return this.real.remove(host);
  }
}

/**
 * The real port, except that the `failAt`-th operation sent through it (counted from 1
 * across plans) fails: 'refused', as the kernel would refuse it (the operations before it
 * are applied, it and the rest are not); 'applied-then-error', applied by the kernel and
 * then reported failed (the rest not sent).
 */
export class FaultyKernel implements KernelPort {
  private sent = 0;
  constructor(private readonly real: KernelPort, private readonly failAt: number, private readonly kind: Exclude<FaultKind, 'crash-after-record'> = 'refused') {}

  observe(scope: ObserveScope): Promise<ObservedState> {
    return this.real.observe(scope);
  }

  async execute(plan: Plan): Promise<ExecutionReport> {
    const room = this.failAt - this.sent - 1;
    if (room < 0 || room >= plan.length) {
      this.sent += plan.length;
      return this.real.execute(plan);
    }
    const sentForReal = this.kind === 'applied-then-error' ? room + 1 : room;
    const head = await this.real.execute(plan.slice(0, sentForReal));
    this.sent += plan.length;
    if (head.failed) return { ...head, skipped: [...head.skipped, ...plan.slice(sentForReal)] };
    const operation = plan[room]!;
    const error = new KernelError(5, 'EIO', 'injected', operation.op, 'netns' in operation.object ? operation.object.netns : '-', `fault injected at operation ${this.failAt} (${this.kind})`);
    return { applied: head.applied.slice(0, room), failed: { operation, error }, skipped: plan.slice(room + 1) };
  }

  release(netns: readonly NetnsLocator[]): void {
    this.real.release(netns);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The demo policy on a bridge Sluice did not create: `bridge` in the namespace `hostNs`
 * (made by the test), declared external the way a Docker host declares it.
 */
export function externalBridgePolicy(prefix: string, hostNs: string, bridge: string): Policy {
  const p = demoPolicyFor(prefix, (t) => t.replace('netns: sl-host', `netns: /run/netns/${hostNs}`).replace('bridge: sl-br0', `bridge: ${bridge}`));
  return { ...p, host: { ...p.host, external: true } };
}

/** Makes the namespace and the bridge a Docker daemon (or a CNI plugin) would have made. */
export async function makeExternalBridge(hostNs: string, bridge: string, cidr: string): Promise<void> {
  await sh('ip', ['netns', 'add', hostNs]);
  await sh('ip', ['-n', hostNs, 'link', 'add', bridge, 'type', 'bridge']);
  await sh('ip', ['-n', hostNs, 'addr', 'add', cidr, 'dev', bridge]);
  await sh('ip', ['-n', hostNs, 'link', 'set', bridge, 'up']);
}

/** What Sluice could have left: sl- namespaces with the prefix, sl- links and qdiscs in `namespaces`, qdiscs on `devices`. */
export async function leftovers(prefix: string, namespaces: readonly string[], devices: readonly { netns: string; dev: string }[]): Promise<string[]> {
  const left: string[] = (await netnsList()).filter((n) => n.startsWith(prefix) && !namespaces.includes(n)).map((n) => `netns ${n}`);
  for (const ns of namespaces) {
    const links = await sh('ip', ['-n', ns, '-o', 'link', 'show']);
    for (const line of links.split('\n')) {
      const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
      if (name?.startsWith('sl-')) left.push(`link ${ns}/${name}`);
    }
  }
  for (const d of devices) {
    const qdiscs = await sh('tc', ['-n', d.netns, 'qdisc', 'show', 'dev', d.dev]);
    for (const line of qdiscs.split('\n')) if (/qdisc (htb|ingress|clsact|pfifo|bfifo|tbf)/.test(line)) left.push(`qdisc ${d.netns}/${d.dev}: ${line.trim()}`);
  }
  return left;
}
