// Operations → rtnetlink requests. Consecutive operations in one namespace go out as one
// batch, and batches of different namespaces overlap (order within a namespace holds);
// every reply is tied back to its operation by sequence number. Namespace, sysctl and
// cgroup operations go through the addon. Deleting what is already gone is success.

import { constants as osConstants } from 'node:os';
import { KernelError, SluiceError } from '../../errors';
import type { Operation } from '../../tc/operation';
import { describeObject } from '../../tc/describe';
import { assertNever, type CgroupClassidObject, type FilterObject, type LinkObject, type NamespaceObject, type NetnsLocator, type SysctlObject } from '../../tc/model';
import type { ExecutionReport } from '../port';
import { NLM_F, RTM } from './constants';
import { errnoName } from './errno';
import { addressBody, bridgeAddress, frame, linkChangeBody, linkCreateBody, routeBody, type LinkCreate, type NlError } from './messages';
import { DeleteRun } from './linkDeletes';
import { allocSeq, type NetnsSession } from './session';
import { tcMessage, type TcEncodeContext } from './tc';

/** What execution needs beyond netlink: the addon's namespace and sysctl calls. */
export interface HostOps {
  session(ns: NetnsLocator): Promise<NetnsSession>;
  forget(ns: NetnsLocator): void;
  /**
   * A namespace with lo up (the plan has no change for its loopback): IPv4-only, or
   * with `ipv6` IPv6 on without autoconfigured addresses.
   */
  createNetns(name: string, ipv6: boolean): void;
  deleteNetns(name: string): void;
  writeSysctl(ns: NetnsLocator, key: string, value: string): void;
  openNetnsFd(ns: NetnsLocator): number;
  closeFd(fd: number): void;
  bpfProgram(program: 'netcls-classid'): { fd: number; name: string };
  writeCgroupClassid(o: CgroupClassidObject, action: 'create' | 'change' | 'delete'): void;
}

/** The libuv pool has 4 threads; more batches in flight would only queue. */
const MAX_PARALLEL_BATCHES = 4;
/**
 * A namespace's operations go out in batches of this many, so the kernel works through
 * one batch while the next is encoded (thousands of tc objects on one device).
 */
const PIPELINE_BATCH = 512;
const GONE = new Set([osConstants.errno.ENOENT, osConstants.errno.ENODEV, osConstants.errno.ESRCH, osConstants.errno.EADDRNOTAVAIL]);

const HINTS: Readonly<Record<string, string>> = {
  EEXIST: 'something already exists there that Sluice did not expect: `sluice plan` shows the difference; `sluice destroy` then `apply` starts clean',
  ENOENT: 'a parent object is missing (device, qdisc or class) or the kernel lacks this kind: run `sluice apply` again to rebuild parents',
  EINVAL: 'the kernel rejected a parameter; its message says which',
  EOPNOTSUPP: 'this kernel does not support the operation; Sluice detects features at start, please report this',
  ENODEV: 'the device disappeared while applying; run `sluice apply` again',
};

interface Pending {
  readonly op: Operation;
  readonly seq: number;
  readonly message: Buffer;
  /** A link marked for its run's group delete: done when that delete is. */
  readonly marked?: true;
  /** A run's group delete: the link deletions it completes. */
  readonly completes?: readonly Operation[];
}

/** A veth end created from `netns` into `peerNetns`. */
interface MadePeer {
  readonly netns: NetnsLocator;
  readonly name: string;
  readonly peerNetns: NetnsLocator;
  readonly peerName: string;
}

class MissingDeviceError extends Error {
  constructor(readonly dev: string) {
    super(`device ${dev} not found`);
  }
}

export class Executor {
  private batchNs: NetnsLocator | undefined;
  private pending: Pending[] = [];
  private fdsToClose: number[] = [];
  /** Batches sent and not yet answered, one per namespace at most, in parallel. */
  private readonly inFlight = new Map<NetnsLocator, Promise<void>>();
  private readonly applied: Operation[] = [];
  private failed: { operation: Operation; error: KernelError } | undefined;
  /** Sessions already open, so each operation does not wait on the host's promise. */
  private readonly sessions = new Map<NetnsLocator, NetnsSession>();
  /** Consecutive link deletions in batchNs, sent as one group delete when the run ends. */
  private deleteRun: DeleteRun | undefined;
  /** Veths this run created into another namespace, by that namespace: their ends' indexes are not known there yet. */
  private peersMade = new Map<NetnsLocator, MadePeer[]>();

  constructor(private readonly host: HostOps) {}

  private async openSession(ns: NetnsLocator): Promise<NetnsSession> {
    const session = await this.host.session(ns);
    this.sessions.set(ns, session);
    return session;
  }

  async run(plan: readonly Operation[]): Promise<ExecutionReport> {
    let i = 0;
    for (; i < plan.length && !this.failed; i++) await this.step(plan[i]!);
    await this.flush();
    const done = new Set(this.applied);
    const failedOp = this.failed?.operation;
    return {
      applied: plan.filter((op) => done.has(op)),
      ...(this.failed ? { failed: this.failed } : {}),
      skipped: plan.filter((op) => !done.has(op) && op !== failedOp),
    };
  }

  private async step(op: Operation): Promise<void> {
    const o = op.object;
    const linkDelete = o.type === 'link' && op.op === 'delete';
    if (!linkDelete || this.deleteRun?.full) this.endDeleteRun();
    if (o.type === 'namespace' || o.type === 'sysctl' || o.type === 'cgroup-classid') {
      await this.answeredBefore(o);
      this.runHostOp(op);
      return;
    }
    if (this.peersMade.has(o.netns)) {
      await this.learnPeers();
      // A creation refused: nothing more is sent (the run stops at this operation).
      if (this.failed) return;
    }
    if (this.batchNs !== undefined && this.batchNs !== o.netns) await this.dispatch();
    // Within one namespace order holds without waiting here: dispatch() sends a batch only
    // after the namespace's previous one, and lookups share the socket's queue.
    this.batchNs = o.netns;
    const session = this.sessions.get(o.netns) ?? (await this.openSession(o.netns));
    const seq = allocSeq();
    // Most of a large plan is tc objects on devices already known: encoded right here,
    // without a round of promises per operation.
    const now = this.buildTcNow(op, session, seq);
    if (now !== NOT_NOW) {
      this.pending.push({ op, seq, message: now });
      if (this.pending.length >= PIPELINE_BATCH) await this.dispatchAndYield();
      return;
    }
    let message: Buffer | undefined;
    try {
      message = await this.build(op, session, seq);
    } catch (e) {
      if (!(e instanceof MissingDeviceError)) throw e;
      // The device may have been created earlier in this batch: send it, look again.
      await this.flush();
      try {
        message = await this.build(op, session, seq);
      } catch (again) {
        if (!(again instanceof MissingDeviceError)) throw again;
        if (op.op === 'delete') {
          this.applied.push(op);
          return;
        }
        this.fail(op, osConstants.errno.ENODEV, { errno: osConstants.errno.ENODEV, message: `device ${again.dev} does not exist` });
        return;
      }
    }
    if (message === undefined) {
      this.applied.push(op);
      return;
    }
    if (linkDelete) {
      this.pending.push({ op, seq, message, marked: true });
      this.deleteRun!.ops.push(op);
      session.forgetLink(o.name);
    } else {
      this.pending.push({ op, seq, message });
    }
    if (this.pending.length >= PIPELINE_BATCH) await this.dispatchAndYield();
  }

  /**
   * The indexes of the veth ends this run created in other namespaces, from their other
   * ends (IFLA_LINK), in one exchange per namespace those ends are in: each new
   * container's namespace otherwise costs a lookup round trip of its own, waited for
   * before its next operation is sent (20 a churn tick). After the creations are answered.
   * An end not found is looked up as before, one by one.
   */
  private async learnPeers(): Promise<void> {
    const made = [...this.peersMade.values()].flat();
    this.peersMade = new Map();
    await this.flush();
    const byOwnNetns = new Map<NetnsLocator, MadePeer[]>();
    for (const m of made) {
      const ends = byOwnNetns.get(m.netns);
      if (ends) ends.push(m);
      else byOwnNetns.set(m.netns, [m]);
    }
    for (const [netns, ends] of byOwnNetns) {
      const session = this.sessions.get(netns) ?? (await this.openSession(netns));
      const found = await session.lookUp(ends.map((e) => e.name));
      for (const e of ends) {
        const peerIndex = found.get(e.name)?.peerIndex;
        if (peerIndex === undefined) continue;
        const peerSession = this.sessions.get(e.peerNetns) ?? (await this.openSession(e.peerNetns));
        peerSession.rememberIndex(e.peerName, peerIndex);
      }
    }
  }

  /** Closes the run of link deletions: one request deletes every device it marked. */
  private endDeleteRun(): void {
    const run = this.deleteRun;
    this.deleteRun = undefined;
    if (!run || run.ops.length === 0) return;
    const seq = allocSeq();
    this.pending.push({ op: run.ops.at(-1)!, seq, message: run.deleteAll(seq), completes: run.ops });
  }

  /**
   * Sends a full batch, then lets the event loop run once: a batch that finished in the
   * meantime is only seen (and the next one sent after it) when callbacks run.
   */
  private async dispatchAndYield(): Promise<void> {
    await this.dispatch();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private runHostOp(op: Operation): void {
    const o = op.object;
    try {
      if (o.type === 'namespace') {
        if (op.op === 'create') this.host.createNetns(o.name, o.ipv6 === true);
        else if (op.op === 'delete') {
          this.sessions.delete(o.name);
          this.host.forget(o.name);
          this.host.deleteNetns(o.name);
        }
      } else if (o.type === 'sysctl') {
        if (op.op !== 'delete') this.host.writeSysctl(o.netns, o.key, o.value);
      } else if (o.type === 'cgroup-classid') {
        this.host.writeCgroupClassid(o, op.op);
      }
      this.applied.push(op);
    } catch (e) {
      if (e instanceof KernelError) this.failed = { operation: op, error: e };
      else if (e instanceof SluiceError) this.failed = { operation: op, error: new KernelError(0, e.code, op.op, describeObject(o, false), o.type === 'namespace' ? o.name : o.type === 'sysctl' ? o.netns : '-', e.message, e.hint) };
      else throw e;
    }
  }

  /**
   * Sends the pending batch without waiting for it, so batches of different namespaces
   * (thousands of containers each needing links up, an address and a route) overlap.
   */
  private async dispatch(): Promise<void> {
    // In the same batch as its marks: a crash between them would leave devices marked.
    this.endDeleteRun();
    const batch = this.pending;
    const ns = this.batchNs;
    const fds = this.fdsToClose;
    this.pending = [];
    this.fdsToClose = [];
    if (batch.length === 0 || ns === undefined) {
      for (const fd of fds) this.host.closeFd(fd);
      return;
    }
    // After the namespace's previous batch (if still in flight), whatever its outcome was
    // (as when the whole namespace went out as one batch); its error still surfaces.
    const previous = this.inFlight.get(ns);
    const after = previous
      ? previous.then(
          () => this.send(ns, batch, fds),
          (e: unknown) => {
            for (const fd of fds) this.host.closeFd(fd);
            throw e;
          },
        )
      : this.send(ns, batch, fds);
    const sending: Promise<void> = after.finally(() => {
      if (this.inFlight.get(ns) === sending) this.inFlight.delete(ns);
    });
    this.inFlight.set(ns, sending);
    if (this.inFlight.size >= MAX_PARALLEL_BATCHES) await Promise.race(this.inFlight.values());
  }

  /**
   * Sends what is pending and waits for what a host operation may depend on: the batches
   * of the namespace it acts in (a sysctl names a device made there; a namespace goes after
   * its objects' deletions), not the other namespaces'. A namespace does not wait for the
   * host namespace's veth deletions (a churn tick's group delete, ~36 ms of RCU grace
   * periods) to be created or deleted. A cgroup's classid waits for everything.
   */
  private async answeredBefore(o: NamespaceObject | SysctlObject | CgroupClassidObject): Promise<void> {
    await this.dispatch();
    const netns = o.type === 'namespace' ? o.name : o.type === 'sysctl' ? o.netns : undefined;
    if (netns === undefined) await Promise.all(this.inFlight.values());
    else await this.inFlight.get(netns);
  }

  /** Sends what is pending and waits for every batch in flight. */
  private async flush(): Promise<void> {
    await this.dispatch();
    await Promise.all(this.inFlight.values());
  }

  private async send(ns: NetnsLocator, batch: readonly Pending[], fds: readonly number[]): Promise<void> {
    const session = await this.host.session(ns);
    let answers: Map<number, NlError>;
    try {
      answers = await session.batch(batch.map((p) => p.message), batch.map((p) => p.seq));
    } finally {
      for (const fd of fds) this.host.closeFd(fd);
    }
    for (const p of batch) this.settle(p, answers.get(p.seq));
  }

  /** One answer. A marked link waits for its run's group delete, which settles the run. */
  private settle(p: Pending, a: NlError | undefined): void {
    if (a && a.errno !== 0 && !(p.op.op === 'delete' && GONE.has(a.errno))) {
      this.fail(p.completes?.[0] ?? p.op, a.errno, a);
      return;
    }
    if (p.completes) this.applied.push(...p.completes.filter((op) => op !== this.failed?.operation));
    else if (!p.marked) this.applied.push(p.op);
  }

  private fail(op: Operation, errno: number, a: NlError): void {
    // The first failure is the cause: a later one (a peer's change after its veth failed
    // to be created, found on flushing) must not hide it.
    if (this.failed) return;
    const name = errnoName(errno);
    const ns = 'netns' in op.object ? op.object.netns : '-';
    this.failed = { operation: op, error: new KernelError(errno, name, op.op, describeObject(op.object, false), ns, a.message, HINTS[name]) };
  }

  private async index(session: NetnsSession, dev: string): Promise<number> {
    const i = await session.ifindex(dev);
    if (i === undefined) throw new MissingDeviceError(dev);
    return i;
  }

  /** The request for one operation; undefined when nothing needs sending. */
  private async build(op: Operation, session: NetnsSession, seq: number): Promise<Buffer | undefined> {
    const o = op.object;
    const create = NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
    switch (o.type) {
      case 'link':
        return this.buildLink(op, o, session, seq);
      case 'address': {
        const body = addressBody(o.cidr, await this.index(session, o.dev));
        return frame(op.op === 'delete' ? RTM.DELADDR : RTM.NEWADDR, op.op === 'delete' ? NLM_F.ACK : create, seq, body);
      }
      case 'route': {
        const body = routeBody(o.dst, o.via, o.dev ? await this.index(session, o.dev) : undefined);
        return frame(op.op === 'delete' ? RTM.DELROUTE : RTM.NEWROUTE, op.op === 'delete' ? NLM_F.ACK : create, seq, body);
      }
      case 'qdisc':
      case 'class':
        return tcMessage(op, o, await this.index(session, o.dev), seq, NO_DEVICES);
      case 'filter':
        return tcMessage(op, o, await this.index(session, o.dev), seq, await this.encodeContext(session, devicesNamed(o)));
      case 'namespace':
      case 'sysctl':
      case 'cgroup-classid':
        return undefined;
      default:
        return assertNever(o);
    }
  }

  private async buildLink(op: Operation, o: LinkObject, session: NetnsSession, seq: number): Promise<Buffer | undefined> {
    if (op.op === 'delete') {
      const index = await session.ifindex(o.name);
      // A veth's other end, or a device in a deleted namespace, may already be gone.
      if (index === undefined) return undefined;
      this.deleteRun ??= new DeleteRun();
      return this.deleteRun.mark(index, seq);
    }
    if (op.op === 'change') {
      const before = op.before as LinkObject;
      const masterIndex = o.master !== undefined ? await this.index(session, o.master) : before.master !== undefined ? 0 : undefined;
      return frame(RTM.NEWLINK, NLM_F.ACK, seq, linkChangeBody({ index: await this.index(session, o.name), up: o.up, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(masterIndex !== undefined ? { masterIndex } : {}), ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}), ...(isolationChange(op.fields, o)) }));
    }
    if (o.spec.kind === 'external') return undefined;
    const masterIndex = o.master !== undefined ? await this.index(session, o.master) : undefined;
    let peer: LinkCreate['peer'];
    if (o.spec.kind === 'veth') {
      const fd = this.host.openNetnsFd(o.spec.peerNetns);
      this.fdsToClose.push(fd);
      // Down: opening it now fails with ENOTCONN (its peer, this end, is registered after
      // it); the plan brings it up right after (plan/links.ts, peerUpChange).
      if (o.spec.peerNetns !== o.netns) {
        const made: MadePeer = { netns: o.netns, name: o.name, peerNetns: o.spec.peerNetns, peerName: o.spec.peerName };
        const into = this.peersMade.get(made.peerNetns);
        if (into) into.push(made);
        else this.peersMade.set(made.peerNetns, [made]);
      }
      peer = { name: o.spec.peerName, netnsFd: fd, up: false, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}) };
    }
    return frame(RTM.NEWLINK, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, linkCreateBody({ name: o.name, kind: o.spec.kind, up: o.up, ...(o.spec.kind === 'bridge' ? { address: bridgeAddress(o.netns, o.name) } : {}), ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(masterIndex !== undefined ? { masterIndex } : {}), ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}), ...(peer ? { peer } : {}) }));
  }

  /**
   * The request for a qdisc, class or filter operation when the devices it names are
   * already known to the session; NOT_NOW otherwise (build() looks them up).
   */
  private buildTcNow(op: Operation, session: NetnsSession, seq: number): Buffer | typeof NOT_NOW {
    const o = op.object;
    if (o.type !== 'qdisc' && o.type !== 'class' && o.type !== 'filter') return NOT_NOW;
    const ifindex = session.knownIfindex(o.dev);
    if (ifindex === undefined) return NOT_NOW;
    if (o.type !== 'filter') return tcMessage(op, o, ifindex, seq, NO_DEVICES);
    const indexes = new Map<string, number>();
    for (const dev of devicesNamed(o)) {
      const i = session.knownIfindex(dev);
      if (i === undefined) return NOT_NOW;
      indexes.set(dev, i);
    }
    return tcMessage(op, o, ifindex, seq, this.contextWith(indexes));
  }

  /** Indexes of the devices a filter's actions name, resolved before encoding. */
  private async encodeContext(session: NetnsSession, devices: readonly string[]): Promise<TcEncodeContext> {
    const indexes = new Map<string, number>();
    for (const dev of devices) indexes.set(dev, await this.index(session, dev));
    return this.contextWith(indexes);
  }

  private contextWith(indexes: ReadonlyMap<string, number>): TcEncodeContext {
    return {
      ifindexOf: (dev) => {
        const i = indexes.get(dev);
        if (i === undefined) throw new MissingDeviceError(dev);
        return i;
      },
      bpfProgram: (p) => this.host.bpfProgram(p),
    };
  }
}

/**
 * A change's port isolation, when it changes and the port keeps its master: the kernel
 * reads port attributes with the master the device has before the request, so a port
 * put back on its bridge is isolated by the next apply (or tick), not in the same request.
 */
function isolationChange(fields: readonly string[], o: LinkObject): { isolated?: boolean } {
  return fields.includes('isolated') && !fields.includes('master') ? { isolated: o.isolated === true } : {};
}

/** build() found a device it needs unknown to the session: look it up (asynchronously). */
const NOT_NOW = Symbol('not now');

/** The encode context of objects that name no device besides their own. */
const NO_DEVICES: TcEncodeContext = {
  ifindexOf: (dev) => {
    throw new MissingDeviceError(dev);
  },
  bpfProgram: () => {
    throw new Error('only filters carry BPF programs');
  },
};

/** Devices a filter names besides its own: the targets of its mirred actions. */
function devicesNamed(f: FilterObject): string[] {
  return f.spec.kind === 'u32' ? (f.spec.actions ?? []).flatMap((a) => (a.kind === 'mirred' ? [a.targetDev] : [])) : [];
}
