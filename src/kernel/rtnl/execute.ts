// Operations → rtnetlink requests. Consecutive operations in one namespace go out as one
// batch, and batches of different namespaces overlap (order within a namespace holds);
// every reply is tied back to its operation by sequence number. Namespace, sysctl and
// cgroup operations go through the addon. Deleting what is already gone is success.

import { constants as osConstants } from 'node:os';
import { KernelError, SluiceError } from '../../errors';
import type { Operation } from '../../plan/model';
import { describeObject } from '../../plan/format';
import { assertNever, type CgroupClassidObject, type LinkObject, type NetnsLocator } from '../../tc/model';
import type { ExecutionReport } from '../port';
import { NLM_F, RTM } from './constants';
import { addressBody, filterInfo, frame, linkChangeBody, linkCreateBody, routeBody, tcBody, type NlError } from './messages';
import { allocSeq, type NetnsSession } from './session';
import { encodeFilterOptions, encodeHtbClass, encodeQdiscOptions, type TcEncodeContext } from './tcCodec';

/** What execution needs beyond netlink: the addon's namespace and sysctl calls. */
export interface HostOps {
  session(ns: NetnsLocator): Promise<NetnsSession>;
  forget(ns: NetnsLocator): void;
  createNetns(name: string): void;
  deleteNetns(name: string): void;
  writeSysctl(ns: NetnsLocator, key: string, value: string): void;
  openNetnsFd(ns: NetnsLocator): number;
  closeFd(fd: number): void;
  bpfProgram(program: 'netcls-classid'): { fd: number; name: string };
  writeCgroupClassid(o: CgroupClassidObject, action: 'create' | 'change' | 'delete'): void;
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;
/** The libuv pool has 4 threads; more batches in flight would only queue. */
const MAX_PARALLEL_BATCHES = 4;
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

  constructor(private readonly host: HostOps) {}

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
    if (o.type === 'namespace' || o.type === 'sysctl' || o.type === 'cgroup-classid') {
      await this.flush();
      this.runHostOp(op);
      return;
    }
    if (this.batchNs !== undefined && this.batchNs !== o.netns) await this.dispatch();
    // Within one namespace, order holds: wait for its previous batch.
    await this.inFlight.get(o.netns);
    this.batchNs = o.netns;
    const session = await this.host.session(o.netns);
    let message: Buffer | undefined;
    const seq = allocSeq();
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
    this.pending.push({ op, seq, message });
    if (o.type === 'link' && op.op === 'delete') session.forgetLink(o.name);
  }

  private runHostOp(op: Operation): void {
    const o = op.object;
    try {
      if (o.type === 'namespace') {
        if (op.op === 'create') this.host.createNetns(o.name);
        else if (op.op === 'delete') {
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
    const batch = this.pending;
    const ns = this.batchNs;
    const fds = this.fdsToClose;
    this.pending = [];
    this.fdsToClose = [];
    if (batch.length === 0 || ns === undefined) {
      for (const fd of fds) this.host.closeFd(fd);
      return;
    }
    const sending = this.send(ns, batch, fds).finally(() => {
      if (this.inFlight.get(ns) === sending) this.inFlight.delete(ns);
    });
    this.inFlight.set(ns, sending);
    if (this.inFlight.size >= MAX_PARALLEL_BATCHES) await Promise.race(this.inFlight.values());
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
    for (const p of batch) {
      const a = answers.get(p.seq);
      if (!a || a.errno === 0 || (p.op.op === 'delete' && GONE.has(a.errno))) {
        this.applied.push(p.op);
      } else if (!this.failed) {
        this.fail(p.op, a.errno, a);
      }
    }
  }

  private fail(op: Operation, errno: number, a: NlError): void {
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
    const change = NLM_F.ACK;
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
      case 'qdisc': {
        const h = { ifindex: await this.index(session, o.dev), handle: o.handle, parent: o.parent, info: 0 };
        if (op.op === 'delete') return frame(RTM.DELQDISC, NLM_F.ACK, seq, tcBody(h, undefined));
        const { kind, options } = encodeQdiscOptions(o.spec);
        return frame(RTM.NEWQDISC, op.op === 'create' ? create : NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE, seq, tcBody(h, kind, options));
      }
      case 'class': {
        const h = { ifindex: await this.index(session, o.dev), handle: o.classid, parent: o.parent, info: 0 };
        if (op.op === 'delete') return frame(RTM.DELTCLASS, NLM_F.ACK, seq, tcBody(h, undefined));
        return frame(RTM.NEWTCLASS, op.op === 'create' ? create : change, seq, tcBody(h, 'htb', encodeHtbClass(o.spec)));
      }
      case 'filter': {
        const h = { ifindex: await this.index(session, o.dev), handle: o.handle, parent: o.parent, info: filterInfo(o.prio, o.protocol) };
        if (op.op === 'delete') return frame(RTM.DELTFILTER, NLM_F.ACK, seq, tcBody(h, o.spec.kind));
        const { kind, options } = encodeFilterOptions(o.spec, o.handle, await this.encodeContext(session, o.spec.kind === 'u32' ? (o.spec.actions ?? []).flatMap((a) => (a.kind === 'mirred' ? [a.targetDev] : [])) : []));
        return frame(RTM.NEWTFILTER, op.op === 'create' ? create : NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE, seq, tcBody(h, kind, options));
      }
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
      return frame(RTM.DELLINK, NLM_F.ACK, seq, linkChangeBody({ index }));
    }
    if (op.op === 'change') {
      const before = op.before as LinkObject;
      const masterIndex = o.master !== undefined ? await this.index(session, o.master) : before.master !== undefined ? 0 : undefined;
      return frame(RTM.NEWLINK, NLM_F.ACK, seq, linkChangeBody({ index: await this.index(session, o.name), up: o.up, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(masterIndex !== undefined ? { masterIndex } : {}), ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}) }));
    }
    if (o.spec.kind === 'external') return undefined;
    const masterIndex = o.master !== undefined ? await this.index(session, o.master) : undefined;
    let peer: { name: string; netnsFd: number; up: boolean } | undefined;
    if (o.spec.kind === 'veth') {
      const fd = this.host.openNetnsFd(o.spec.peerNetns);
      this.fdsToClose.push(fd);
      peer = { name: o.spec.peerName, netnsFd: fd, up: false, ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}) };
    }
    return frame(RTM.NEWLINK, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, linkCreateBody({ name: o.name, kind: o.spec.kind, up: o.up, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(masterIndex !== undefined ? { masterIndex } : {}), ...(o.gsoMaxSize !== undefined ? { gsoMaxSize: o.gsoMaxSize } : {}), ...(peer ? { peer } : {}) }));
  }

  /** Indexes of the devices a filter's actions name, resolved before encoding. */
  private async encodeContext(session: NetnsSession, devices: readonly string[]): Promise<TcEncodeContext> {
    const indexes = new Map<string, number>();
    for (const dev of devices) indexes.set(dev, await this.index(session, dev));
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

