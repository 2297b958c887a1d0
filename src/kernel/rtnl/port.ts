// The kernel port over rtnetlink: one socket per namespace (opened inside it by the
// addon), dumps decoded into the model, plans executed in batches.

import { NamespaceNotFoundError } from '../../errors';
import { ensureNetclsRoot, observeCgroups, removeCgroup, writeCgroupClassid } from '../cgroup';
import { emptyKernelState, type LinkObject, type NetnsLocator, type ObservedState } from '../../tc/model';
import * as native from '../native';
import type { NetlinkChannelFactory } from '../netlink/channel';
import { nativeChannelFactory } from '../netlink/nativeChannel';
import type { ExecutionReport, KernelPort, ObserveScope } from '../port';
import type { Plan } from '../../plan/model';
import { Executor, type HostOps } from './execute';
import { dumpNamespace, linkObjects, namespaceIsOwned, type NamespaceDump } from './observe';
import { NetnsSession } from './session';

export interface RtnlKernelOptions {
  readonly factory?: NetlinkChannelFactory;
}

export class RtnlKernel implements KernelPort {
  private readonly sessions = new Map<NetnsLocator, Promise<NetnsSession>>();
  private bpf: native.BpfProgram | undefined;

  constructor(private readonly factory: NetlinkChannelFactory = nativeChannelFactory) {}

  session(ns: NetnsLocator): Promise<NetnsSession> {
    let s = this.sessions.get(ns);
    if (!s) {
      s = this.factory.open(ns).then((channel) => new NetnsSession(channel));
      s.catch(() => this.sessions.delete(ns));
      this.sessions.set(ns, s);
    }
    return s;
  }

  /** Drops the socket of a namespace about to be deleted (it would keep it alive). */
  forget(ns: NetnsLocator): void {
    const s = this.sessions.get(ns);
    this.sessions.delete(ns);
    void s?.then((x) => x.close()).catch(() => undefined);
  }

  release(netns: readonly NetnsLocator[]): void {
    for (const ns of netns) this.forget(ns);
  }

  async observe(scope: ObserveScope): Promise<ObservedState> {
    const dumps: NamespaceDump[] = [];
    for (const ns of scope.netns) {
      try {
        const wholly = scope.wholly ? scope.wholly.includes(ns) : namespaceIsOwned(ns);
        const external = new Set((scope.external ?? []).filter((d) => d.netns === ns).map((d) => d.dev));
        dumps.push(await dumpNamespace(ns, await this.session(ns), scope.withStats, wholly, external));
      } catch (e) {
        // A namespace deleted since the scope was computed has nothing to observe.
        if (e instanceof NamespaceNotFoundError) {
          this.forget(ns);
          continue;
        }
        throw e;
      }
    }
    const links: LinkObject[] = linkObjects(dumps);
    const stats = dumps.length === 1 ? dumps[0]!.stats : new Map(dumps.flatMap((d) => [...d.stats]));
    return {
      ...emptyKernelState(),
      namespaces: native.listNetns().filter((n) => n.startsWith('sl-')).map((name) => ({ type: 'namespace' as const, name })),
      links,
      addresses: dumps.flatMap((d) => d.addresses),
      routes: dumps.flatMap((d) => d.routes),
      qdiscs: dumps.flatMap((d) => d.qdiscs),
      classes: dumps.flatMap((d) => d.classes),
      filters: dumps.flatMap((d) => d.filters),
      cgroups: observeCgroups(),
      stats,
    };
  }

  execute(plan: Plan): Promise<ExecutionReport> {
    return new Executor(this.hostOps()).run(plan);
  }

  private hostOps(): HostOps {
    return {
      session: (ns) => this.session(ns),
      forget: (ns) => this.forget(ns),
      createNetns: (name) => native.createNetns(name),
      deleteNetns: (name) => native.deleteNetns(name),
      writeSysctl: (ns, key, value) => native.writeSysctl(ns, key, value),
      openNetnsFd: (ns) => native.openNetnsFd(ns),
      closeFd: (fd) => native.closeFd(fd),
      bpfProgram: () => (this.bpf ??= native.loadNetclsClassidProgram()),
      writeCgroupClassid: (o, action) => {
        if (action === 'delete') return removeCgroup(o);
        ensureNetclsRoot((target) => native.mountNetCls(target));
        return writeCgroupClassid(o, action);
      },
    };
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await s.then((x) => x.close()).catch(() => undefined);
    if (this.bpf) native.closeFd(this.bpf.fd);
    this.bpf = undefined;
  }
}

export async function openRtnlKernel(options: RtnlKernelOptions = {}): Promise<KernelPort> {
  return new RtnlKernel(options.factory);
}
