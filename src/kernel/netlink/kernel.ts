// KernelPort over rtnetlink: plans become batches of requests per namespace, dumps become
// the model's objects. Namespaces, sysctls and BPF loading go through the native addon.

import { constants as osConstants } from 'node:os';
import { KernelError, SluiceError } from '../../errors';
import type { Operation, Plan } from '../../plan/model';
import { decodeClass, decodeCounters, decodeFilter, decodeHtbXstats, decodeQdisc, encodeClass, encodeFilter, encodeQdisc } from '../../tc/codec/index';
import type { DecodeContext, EncodeContext } from '../../tc/codec/types';
import { majorOf } from '../../tc/handle';
import {
  assertNever,
  objectKey,
  OWNED_PREFIX,
  type AddressObject,
  type HtbXstats,
  type KernelObject,
  type LinkObject,
  type NetnsLocator,
  type ObservedState,
  type RouteObject,
  type SysctlObject,
  type TcCounters,
} from '../../tc/model';
import * as native from '../native';
import { observeCgroups, removeCgroup, writeCgroupClassid } from '../cgroup';
import type { ExecutionReport, KernelPort, ObserveScope } from '../port';
import type { NetlinkChannel, NetlinkChannelFactory } from './channel';
import {
  addressBody,
  dumpRequest,
  frame,
  linkBody,
  NLM_F,
  NLMSG,
  parseAddress,
  parseError,
  parseLink,
  parseReply,
  parseRoute,
  parseTc,
  routeBody,
  RTM,
  tcBody,
  AF_INET,
  type LinkInfo,
  type Reply,
} from './messages';

const ENODEV = 19;
const CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
const CHANGE = NLM_F.REQUEST | NLM_F.ACK;
const REPLACE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.REPLACE;
/** Sysctls Sluice sets; observe reads these back in every owned namespace. */
const OBSERVED_SYSCTLS = ['net.ipv4.ip_forward'] as const;

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
const errnoName = (errno: number): string => ERRNO_NAMES.get(errno) ?? `errno ${errno}`;

const owns = (netns: NetnsLocator): boolean => netns.startsWith(OWNED_PREFIX);
const describe = (o: KernelObject): string => `${o.type} ${objectKey(o)}`;

interface PendingRequest {
  readonly operation: Operation;
  readonly seq: number;
  readonly message: Buffer;
}

/** Thrown inside execute to stop at an operation; carries the error for the report. */
class OperationFailed extends Error {
  constructor(readonly operation: Operation, readonly error: KernelError) {
    super(error.message);
  }
}

class NetlinkKernel implements KernelPort {
  private readonly channels = new Map<NetnsLocator, NetlinkChannel>();
  /** name → ifindex per namespace; dropped whenever a plan creates or deletes a link there. */
  private readonly linkIndex = new Map<NetnsLocator, Map<string, number>>();
  private seq = 1;
  private bpf: { readonly fd: number; readonly name: string } | undefined;

  constructor(private readonly factory: NetlinkChannelFactory) {}

  async close(): Promise<void> {
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
    if (this.bpf) native.closeFd(this.bpf.fd);
    this.bpf = undefined;
  }

  // ------------------------------------------------------------------ execute

  async execute(plan: Plan): Promise<ExecutionReport> {
    // Indexes change when something else recreates a device: trust none from an earlier call.
    this.linkIndex.clear();
    const applied: Operation[] = [];
    let batch: { netns: NetnsLocator; requests: PendingRequest[]; fds: number[] } | undefined;
    const flush = async (): Promise<void> => {
      if (!batch) return;
      const b = batch;
      batch = undefined;
      try {
        await this.sendBatch(b.netns, b.requests, applied);
      } finally {
        for (const fd of b.fds) native.closeFd(fd);
      }
    };
    let index = 0;
    try {
      for (; index < plan.length; index++) {
        const op = plan[index]!;
        const netns = netlinkNetns(op.object);
        if (netns === undefined) {
          await flush();
          this.runOutOfBand(op);
          applied.push(op);
          continue;
        }
        if (batch && batch.netns !== netns) await flush();
        const fds: number[] = [];
        let message: Buffer;
        try {
          message = await this.buildRequest(op, netns, fds, flush);
        } catch (error) {
          for (const fd of fds) native.closeFd(fd);
          throw error instanceof OperationFailed ? error : new OperationFailed(op, this.asKernelError(error, op, netns));
        }
        batch ??= { netns, requests: [], fds: [] };
        batch.requests.push({ operation: op, seq: message.readUInt32LE(8), message });
        batch.fds.push(...fds);
        this.afterQueued(op);
      }
      await flush();
      return { applied, skipped: [] };
    } catch (error) {
      if (!(error instanceof OperationFailed)) throw error;
      const done = new Set(applied);
      const failedAt = plan.indexOf(error.operation);
      const skipped = plan.slice(failedAt + 1).filter((o) => !done.has(o));
      return { applied, failed: { operation: error.operation, error: error.error }, skipped };
    }
  }

  private nextSeq(): number {
    const seq = this.seq++;
    if (this.seq > 0x7fffffff) this.seq = 1;
    return seq;
  }

  /**
   * Sends one namespace's batch. The kernel handles every message even after one fails,
   * so requests after the first failure that it accepted are reported as applied (they
   * are in the kernel); refused ones are left out of both lists' "applied".
   */
  private async sendBatch(netns: NetnsLocator, requests: readonly PendingRequest[], applied: Operation[]): Promise<void> {
    let replies: Buffer[];
    try {
      const channel = await this.channel(netns);
      replies = await channel.exchange(
        requests.map((r) => r.message),
        requests.map((r) => r.seq),
      );
    } catch (error) {
      // No answer at all (namespace gone, socket error): nothing of the batch is known to be applied.
      const first = requests[0]!.operation;
      throw new OperationFailed(first, this.asKernelError(error, first, netns));
    }
    const errors = new Map<number, { errno: number; message?: string }>();
    for (const raw of replies) {
      const reply = parseReply(raw);
      if (reply.type === NLMSG.ERROR) errors.set(reply.seq, parseError(reply));
    }
    let first: OperationFailed | undefined;
    for (const r of requests) {
      const e = errors.get(r.seq);
      if (e && e.errno !== 0 && !alreadyGoneWithItsChain(r.operation, e.errno)) {
        first ??= new OperationFailed(r.operation, this.kernelError(e.errno, r.operation, netns, e.message));
        continue;
      }
      applied.push(r.operation);
    }
    if (first) throw first;
  }

  /** A created name is unknown until looked up; a deleted one (and a veth's peer) is gone. */
  private afterQueued(op: Operation): void {
    const o = op.object;
    if (o.type !== 'link' || op.op === 'change') return;
    this.linkIndex.get(o.netns)?.delete(o.name);
    if (o.spec.kind === 'veth') this.linkIndex.get(o.spec.peerNetns)?.delete(o.spec.peerName);
  }

  private runOutOfBand(op: Operation): void {
    const o = op.object;
    try {
      switch (o.type) {
        case 'namespace':
          if (op.op === 'create') native.createNetns(o.name);
          else if (op.op === 'delete') {
            this.channels.get(o.name)?.close();
            this.channels.delete(o.name);
            this.linkIndex.delete(o.name);
            native.deleteNetns(o.name);
          }
          return;
        case 'sysctl':
          // A sysctl is not deleted: it stays as the namespace has it (and goes with it).
          if (op.op !== 'delete') native.writeSysctl(o.netns, o.key, o.value);
          return;
        case 'cgroup-classid':
          if (op.op === 'delete') removeCgroup(o);
          else writeCgroupClassid(o, op.op);
          return;
        default:
          throw new Error(`unreachable: ${o.type} is a netlink object`);
      }
    } catch (error) {
      throw new OperationFailed(op, this.asKernelError(error, op, 'netns' in o ? o.netns : o.type === 'namespace' ? o.name : '-'));
    }
  }

  private async buildRequest(op: Operation, netns: NetnsLocator, fds: number[], flush: () => Promise<void>): Promise<Buffer> {
    const o = op.object;
    const ifindex = async (dev: string): Promise<number> => this.resolve(netns, dev, flush, op);
    switch (o.type) {
      case 'link':
        return this.linkRequest(op, o, ifindex, fds);
      case 'address': {
        const body = addressBody(await ifindex(o.dev), o.cidr);
        return op.op === 'delete' ? frame(RTM.DELADDR, CHANGE, this.nextSeq(), body) : frame(RTM.NEWADDR, op.op === 'create' ? CREATE : REPLACE, this.nextSeq(), body);
      }
      case 'route': {
        const body = routeBody(o.dst, o.via, o.dev === undefined ? undefined : await ifindex(o.dev));
        if (op.op === 'delete') return frame(RTM.DELROUTE, CHANGE, this.nextSeq(), body);
        return frame(RTM.NEWROUTE, op.op === 'create' ? CREATE : REPLACE | NLM_F.CREATE, this.nextSeq(), body);
      }
      case 'qdisc':
      case 'class':
      case 'filter':
        return this.tcRequest(op, o, await this.encodeContext(o.dev, o, ifindex));
      case 'namespace':
      case 'sysctl':
      case 'cgroup-classid':
        throw new Error(`unreachable: ${o.type} has no netlink request`);
      default:
        return assertNever(o);
    }
  }

  private async linkRequest(op: Operation, o: LinkObject, ifindex: (dev: string) => Promise<number>, fds: number[]): Promise<Buffer> {
    if (op.op === 'delete') return frame(RTM.DELLINK, CHANGE, this.nextSeq(), linkBody({ name: o.name }));
    const masterIndex = o.master !== undefined ? await ifindex(o.master) : op.op === 'change' && op.fields.includes('master') ? 0 : undefined;
    const common = { name: o.name, up: o.up, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(masterIndex !== undefined ? { masterIndex } : {}) };
    // An external link is never created, only set; a change finds the link by IFLA_IFNAME.
    if (op.op === 'change' || o.spec.kind === 'external') return frame(RTM.NEWLINK, CHANGE, this.nextSeq(), linkBody(common));
    if (o.spec.kind === 'veth') {
      const fd = native.openNetnsFd(o.spec.peerNetns);
      fds.push(fd);
      return frame(RTM.NEWLINK, CREATE, this.nextSeq(), linkBody({ ...common, kind: 'veth', peer: { name: o.spec.peerName, netnsFd: fd } }));
    }
    return frame(RTM.NEWLINK, CREATE, this.nextSeq(), linkBody({ ...common, kind: o.spec.kind }));
  }

  private tcRequest(op: Operation, o: KernelObject & { type: 'qdisc' | 'class' | 'filter' }, ctx: EncodeContext): Buffer {
    const [newType, delType] =
      o.type === 'qdisc' ? [RTM.NEWQDISC, RTM.DELQDISC] : o.type === 'class' ? [RTM.NEWTCLASS, RTM.DELTCLASS] : [RTM.NEWTFILTER, RTM.DELTFILTER];
    const wire = o.type === 'qdisc' ? encodeQdisc(o, ctx) : o.type === 'class' ? encodeClass(o, ctx) : encodeFilter(o, ctx);
    if (op.op === 'delete') {
      // Deleting needs only the identity; options would be validated for nothing.
      return frame(delType, CHANGE, this.nextSeq(), tcBody({ ifindex: wire.ifindex, handle: wire.handle, parent: wire.parent, info: wire.info, kind: wire.kind }));
    }
    // HTB classes and qdiscs change in place (REPLACE on an existing object); filters are replaced by the planner.
    return frame(newType, op.op === 'create' ? CREATE : REPLACE, this.nextSeq(), tcBody(wire));
  }

  private async encodeContext(dev: string, o: KernelObject, ifindex: (dev: string) => Promise<number>): Promise<EncodeContext> {
    const names = new Map<string, number>([[dev, await ifindex(dev)]]);
    if (o.type === 'filter' && o.spec.kind === 'u32') {
      for (const a of o.spec.actions ?? []) if (a.kind === 'mirred') names.set(a.targetDev, await ifindex(a.targetDev));
    }
    return {
      ifindexOf: (d) => names.get(d) ?? 0,
      bpfProgram: () => {
        this.bpf ??= native.loadNetclsClassidProgram();
        return this.bpf;
      },
    };
  }

  private async resolve(netns: NetnsLocator, dev: string, flush: () => Promise<void>, op: Operation): Promise<number> {
    let known = this.linkIndex.get(netns);
    if (!known) {
      await flush();
      known = new Map((await this.dumpLinks(netns)).map((l) => [l.name, l.index]));
      this.linkIndex.set(netns, known);
    }
    if (!known.has(dev)) {
      // The link may come from an earlier request of this batch: send those first, then
      // ask for that one name (a full dump per new link would be quadratic).
      await flush();
      const found = await this.linkByName(netns, dev);
      if (found !== undefined) known.set(dev, found);
    }
    const index = known.get(dev);
    if (index === undefined) {
      throw new OperationFailed(
        op,
        new KernelError(ENODEV, 'ENODEV', op.op, describe(op.object), netns, `device ${dev} does not exist`, 'create the device first (or check its name)'),
      );
    }
    return index;
  }

  // ------------------------------------------------------------------ observe

  async observe(scope: ObserveScope): Promise<ObservedState> {
    const state = {
      namespaces: native.listNetns().filter(owns).map((name) => ({ type: 'namespace' as const, name })),
      links: [] as LinkObject[],
      addresses: [] as AddressObject[],
      routes: [] as RouteObject[],
      sysctls: [] as SysctlObject[],
      qdiscs: [] as ReturnType<typeof decodeQdisc>[],
      classes: [] as ReturnType<typeof decodeClass>[],
      filters: [] as ReturnType<typeof decodeFilter>[],
      cgroups: observeCgroups(),
    };
    const stats = new Map<string, TcCounters & { readonly htb?: HtbXstats }>();
    const veths: { netns: NetnsLocator; info: LinkInfo; peerIndex?: number; hasNetnsId: boolean; obj: { spec: LinkObject['spec'] } }[] = [];
    for (const netns of scope.netns) {
      // A namespace not there (yet) has nothing in it; the planner will create it.
      if (!native.netnsExists(netns)) {
        this.channels.get(netns)?.close();
        this.channels.delete(netns);
        continue;
      }
      const raw = await this.dump(netns, RTM.GETLINK);
      const links = raw.map((b) => ({ info: parseLink(b), extra: vethPeer(b) }));
      this.linkIndex.set(netns, new Map(links.map((l) => [l.info.name, l.info.index])));
      const mine = links.filter((l) => owns(netns) || l.info.name.startsWith(OWNED_PREFIX));
      const nameOf = new Map(links.map((l) => [l.info.index, l.info.name]));
      const ownedIndex = new Set(mine.map((l) => l.info.index));
      for (const l of mine) {
        const link = toLinkObject(netns, l.info, nameOf);
        state.links.push(link);
        if (l.info.kind === 'veth') veths.push({ netns, info: l.info, ...l.extra, obj: link as { spec: LinkObject['spec'] } });
      }
      for (const b of await this.dump(netns, RTM.GETADDR, AF_INET)) {
        const a = parseAddress(b);
        if (a && ownedIndex.has(a.index) && !(a.cidr.startsWith('127.') && nameOf.get(a.index) === 'lo')) {
          state.addresses.push({ type: 'address', netns, dev: nameOf.get(a.index) ?? '', cidr: a.cidr });
        }
      }
      for (const b of await this.dump(netns, RTM.GETROUTE, AF_INET)) {
        const r = parseRoute(b);
        if (!r || (r.oif !== undefined && !ownedIndex.has(r.oif)) || (r.oif === undefined && !owns(netns))) continue;
        const dev = r.oif !== undefined ? nameOf.get(r.oif) : undefined;
        state.routes.push({ type: 'route', netns, dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(dev ? { dev } : {}) });
      }
      if (owns(netns)) {
        for (const key of OBSERVED_SYSCTLS) state.sysctls.push({ type: 'sysctl', netns, key, value: native.readSysctl(netns, key).trim() });
      }
      const ctx: DecodeContext = { netns, devOf: (i) => (ownedIndex.has(i) ? nameOf.get(i) : undefined) };
      await this.observeTc(netns, ctx, scope.withStats, state, stats);
    }
    pairVeths(veths);
    const defined = <T>(xs: readonly (T | undefined)[]): T[] => xs.filter((x): x is T => x !== undefined);
    return { ...state, qdiscs: defined(state.qdiscs), classes: defined(state.classes), filters: defined(state.filters), stats };
  }

  private async observeTc(
    netns: NetnsLocator,
    ctx: DecodeContext,
    withStats: boolean,
    state: { qdiscs: unknown[]; classes: unknown[]; filters: unknown[] },
    stats: Map<string, TcCounters & { readonly htb?: HtbXstats }>,
  ): Promise<void> {
    const record = (o: KernelObject, stats2?: Buffer, xstats?: Buffer): void => {
      if (!withStats || !stats2) return;
      const htb = xstats && o.type === 'class' ? { htb: decodeHtbXstats(xstats) } : {};
      stats.set(objectKey(o), { ...decodeCounters(stats2), ...htb });
    };
    const filterParents: { ifindex: number; parent: number }[] = [];
    for (const b of await this.dump(netns, RTM.GETQDISC)) {
      const wire = parseTc(b);
      const major = majorOf(wire.handle as never);
      // Handle 0 is a device's default qdisc, majors from 0x8000 are ones the kernel numbered itself.
      if (major === 0 || (major >= 0x8000 && major !== 0xffff)) continue;
      const q = decodeQdisc(wire, ctx);
      if (!q) continue;
      state.qdiscs.push(q);
      record(q, wire.stats2);
      if (q.spec.kind === 'clsact') filterParents.push({ ifindex: wire.ifindex, parent: 0xfffffff2 }, { ifindex: wire.ifindex, parent: 0xfffffff3 });
      else filterParents.push({ ifindex: wire.ifindex, parent: wire.handle });
    }
    // Class dumps are per device too (tc_dump_tclass looks up tcm_ifindex).
    for (const ifindex of new Set(filterParents.map((p) => p.ifindex))) {
      for (const b of await this.dump(netns, RTM.GETTCLASS, 0, ifindex)) {
        const wire = parseTc(b);
        const c = decodeClass(wire, ctx);
        if (!c) continue;
        state.classes.push(c);
        record(c, wire.stats2, wire.xstats);
      }
    }
    // Filter dumps are per device and parent (tc_dump_tfilter needs both).
    for (const p of filterParents) {
      for (const b of await this.dump(netns, RTM.GETTFILTER, 0, p.ifindex, p.parent)) {
        const f = decodeFilter(parseTc(b), ctx);
        // The kernel makes a root u32 table (htid 800: and up, divisor 1) for each prio by itself.
        if (!f || (f.spec.kind === 'u32' && f.spec.divisor === 1 && f.handle >>> 20 >= 0x800)) continue;
        state.filters.push(f);
      }
    }
  }

  private async linkByName(netns: NetnsLocator, name: string): Promise<number | undefined> {
    const channel = await this.channel(netns);
    const seq = this.nextSeq();
    for (const raw of await channel.exchange([frame(RTM.GETLINK, CHANGE, seq, linkBody({ name }))], [seq])) {
      const reply = parseReply(raw);
      if (reply.seq === seq && reply.type === RTM.NEWLINK) return parseLink(reply.body).index;
    }
    return undefined;
  }

  private async dumpLinks(netns: NetnsLocator): Promise<LinkInfo[]> {
    return (await this.dump(netns, RTM.GETLINK)).map(parseLink);
  }

  /** One dump; returns the bodies of its answers (a socket runs one dump at a time). */
  private async dump(netns: NetnsLocator, type: number, family = 0, ifindex = 0, parent = 0): Promise<Buffer[]> {
    const channel = await this.channel(netns);
    const seq = this.nextSeq();
    const request = dumpRequest(type, seq, family, ifindex);
    if (parent !== 0) request.writeUInt32LE(parent >>> 0, 16 + 12);
    const out: Buffer[] = [];
    for (const raw of await channel.exchange([request], [seq])) {
      const reply: Reply = parseReply(raw);
      if (reply.seq !== seq) continue;
      if (reply.type === NLMSG.ERROR) {
        const e = parseError(reply);
        if (e.errno !== 0) throw new KernelError(e.errno, errnoName(e.errno), 'dump', `rtnetlink type ${type}`, netns, e.message);
        continue;
      }
      if (reply.type !== NLMSG.DONE) out.push(reply.body);
    }
    return out;
  }

  private async channel(netns: NetnsLocator): Promise<NetlinkChannel> {
    const open = this.channels.get(netns);
    if (open) return open;
    const ch = await this.factory.open(netns);
    this.channels.set(netns, ch);
    return ch;
  }

  // ------------------------------------------------------------------ errors

  private kernelError(errno: number, op: Operation, netns: NetnsLocator, message?: string): KernelError {
    return new KernelError(errno, errnoName(errno), op.op, describe(op.object), netns, message, hintFor(errno, op));
  }

  private asKernelError(error: unknown, op: Operation, netns: NetnsLocator): KernelError {
    if (error instanceof KernelError) return error;
    const errno = typeof (error as { errno?: unknown }).errno === 'number' ? Math.abs((error as { errno: number }).errno) : 0;
    const text = error instanceof SluiceError ? error.describe() : error instanceof Error ? error.message : String(error);
    return new KernelError(errno, errno ? errnoName(errno) : 'EUNKNOWN', op.op, describe(op.object), netns, text);
  }
}

const ENOENT = 2;

/**
 * When the last u32 node of a prio goes, the kernel destroys that prio's classifier with
 * all its hash tables; deleting those tables afterwards answers ENOENT, which is the
 * state asked for.
 */
function alreadyGoneWithItsChain(op: Operation, errno: number): boolean {
  return errno === ENOENT && op.op === 'delete' && op.object.type === 'filter' && op.object.spec.kind === 'u32';
}

function hintFor(errno: number, op: Operation): string | undefined {
  switch (errnoName(errno)) {
    case 'EEXIST':
      return 'the object already exists: observe again and re-plan (another tool may have created it)';
    case 'ENOENT':
      return op.op === 'delete' ? 'already gone: observe again and re-plan' : 'its parent does not exist: create the parent first';
    case 'EPERM':
      return 'run as root (CAP_NET_ADMIN)';
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
      return 'this kernel lacks the feature (check `modprobe` for the qdisc/classifier module)';
    default:
      return undefined;
  }
}

/** Which netlink socket an object's request goes through; undefined = done out of band. */
function netlinkNetns(o: KernelObject): NetnsLocator | undefined {
  switch (o.type) {
    case 'namespace':
    case 'sysctl':
    case 'cgroup-classid':
      return undefined;
    case 'link':
    case 'address':
    case 'route':
    case 'qdisc':
    case 'class':
    case 'filter':
      return o.netns;
    default:
      return assertNever(o);
  }
}

// ------------------------------------------------------------------ links in the model

const IFLA_LINK = 5;
const IFLA_LINK_NETNSID = 37;

function vethPeer(body: Buffer): { peerIndex?: number; hasNetnsId: boolean } {
  const a = attrsOf(body);
  const link = a.get(IFLA_LINK);
  return { ...(link && link.length >= 4 ? { peerIndex: link.readUInt32LE(0) } : {}), hasNetnsId: a.has(IFLA_LINK_NETNSID) };
}

function attrsOf(body: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = 16;
  while (at + 4 <= body.length) {
    const len = body.readUInt16LE(at);
    if (len < 4 || at + len > body.length) break;
    out.set(body.readUInt16LE(at + 2) & 0x3fff, body.subarray(at + 4, at + len));
    at += (len + 3) & ~3;
  }
  return out;
}

function toLinkObject(netns: NetnsLocator, l: LinkInfo, nameOf: ReadonlyMap<number, string>): LinkObject {
  const master = l.masterIndex !== undefined ? nameOf.get(l.masterIndex) : undefined;
  const spec: LinkObject['spec'] =
    l.kind === 'bridge' || l.kind === 'ifb' ? { kind: l.kind } : l.kind === 'veth' ? { kind: 'veth', peerName: '', peerNetns: '' } : { kind: 'external' };
  return { type: 'link', netns, name: l.name, up: l.up, ...(l.mtu !== undefined ? { mtu: l.mtu } : {}), ...(master ? { master } : {}), spec };
}

/**
 * A veth's peer is reported as (ifindex, netnsid), and the netnsid is local to the
 * dumping namespace, so it cannot be turned into a name directly. Instead, pair the
 * observed veths whose IFLA_LINK point at each other; a peer outside the observed
 * namespaces keeps an empty peerName/peerNetns (the planner compares veths by name
 * and kind only, so this never causes a change).
 */
function pairVeths(veths: { netns: NetnsLocator; info: LinkInfo; peerIndex?: number; hasNetnsId: boolean; obj: { spec: LinkObject['spec'] } }[]): void {
  for (const a of veths) {
    const peer = veths.find(
      (b) => b !== a && b.info.index === a.peerIndex && b.peerIndex === a.info.index && (a.hasNetnsId ? b.netns !== a.netns : b.netns === a.netns),
    );
    if (peer) (a.obj as { spec: LinkObject['spec'] }).spec = { kind: 'veth', peerName: peer.info.name, peerNetns: peer.netns };
  }
}

export async function openNetlinkKernel(options?: { factory?: NetlinkChannelFactory }): Promise<KernelPort> {
  const factory = options?.factory ?? (await import('./nativeChannel')).nativeChannelFactory;
  return new NetlinkKernel(factory);
}
