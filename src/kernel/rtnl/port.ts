// The kernel port over rtnetlink: one socket per namespace (opened inside it by the
// addon), dumps decoded into the model, plans executed in batches.

import { NamespaceNotFoundError } from '../../errors';
import { ensureNetclsRoot, observeCgroups, removeCgroup, writeCgroupClassid } from '../cgroup';
import { emptyKernelState, type LinkObject, type NetnsLocator, type ObservedState } from '../../tc/model';
import * as native from '../native';
import type { ChangeWatch, NetlinkChannelFactory } from '../netlink/channel';
import { nativeChannelFactory } from '../netlink/nativeChannel';
import type { ExecutionReport, KernelPort, ObserveScope } from '../port';
import type { Plan } from '../../tc/operation';
import { Executor, type HostOps } from './execute';
import { classKeyIndex, dumpNamespace, linkObjects, namespaceIsOwned, refreshClassStats, type ClassKeyIndex, type NamespaceDump } from './observe';
import { NetnsSession } from './session';

export interface RtnlKernelOptions {
  readonly factory?: NetlinkChannelFactory;
  /**
   * Listen to each observed namespace's change announcements, so that observing one in
   * which nothing changed reads only class counters. For a long-running reconciler; a
   * one-shot command observes once and gains nothing.
   */
  readonly followChanges?: boolean;
  /** A full read of a followed namespace at least every this many observes, whatever its watch says. */
  readonly resyncEvery?: number;
}

/** A namespace observed under a watch, and its last full read while nothing has changed. */
interface Followed {
  /** The namespace the watch listens to (see native.netnsIdentity). */
  readonly identity: string | undefined;
  readonly watch: ChangeWatch;
  last?: { readonly scopeKey: string; readonly dump: NamespaceDump; readonly generation: number; reuses: number; classKeys?: ClassKeyIndex };
}

interface NamespaceRead {
  readonly dump: NamespaceDump;
  /** Which full read the objects come from; undefined when not followed. */
  readonly generation?: number;
}

const DEFAULT_RESYNC_EVERY = 60;

export class RtnlKernel implements KernelPort {
  private readonly sessions = new Map<NetnsLocator, Promise<NetnsSession>>();
  private readonly followed = new Map<NetnsLocator, Followed>();
  private generation = 0;
  private bpf: native.BpfProgram | undefined;
  private readonly factory: NetlinkChannelFactory;

  constructor(private readonly options: RtnlKernelOptions = {}) {
    this.factory = options.factory ?? nativeChannelFactory;
  }

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
    this.followed.get(ns)?.watch.close();
    this.followed.delete(ns);
  }

  release(netns: readonly NetnsLocator[]): void {
    for (const ns of netns) this.forget(ns);
  }

  async observe(scope: ObserveScope): Promise<ObservedState> {
    const dumps: NamespaceDump[] = [];
    const generations: string[] = [];
    const wholly = scope.wholly ? new Set(scope.wholly) : undefined;
    // All at once, kept in scope order: while one namespace's dumps wait on the kernel (on
    // the addon's threads), the others are read. A churn tick's full read of the host
    // namespace (9 dumps, ~50 ms of round trips at 1,000 containers) used to wait alone,
    // and then the new namespaces' reads and the 1,000 unchanged ones' watches one by one.
    const reads = await Promise.allSettled(
      scope.netns.map((ns) => {
        const external = new Set((scope.external ?? []).filter((d) => d.netns === ns).map((d) => d.dev));
        return this.read(ns, scope.withStats, wholly ? wholly.has(ns) : namespaceIsOwned(ns), external);
      }),
    );
    for (let i = 0; i < reads.length; i++) {
      const ns = scope.netns[i]!;
      const read = reads[i]!;
      if (read.status === 'fulfilled') {
        dumps.push(read.value.dump);
        generations.push(`${ns}#${read.value.generation ?? '?'}`);
      } else if (read.reason instanceof NamespaceNotFoundError) {
        // A namespace deleted since the scope was computed has nothing to observe.
        this.forget(ns);
      } else {
        throw read.reason;
      }
    }
    const statsAt = performance.now();
    const links: LinkObject[] = linkObjects(dumps);
    const stats = dumps.length === 1 ? dumps[0]!.stats : new Map(dumps.flatMap((d) => [...d.stats]));
    const namespaces = native.listNetns().filter((n) => n.startsWith('sl-')).map((name) => ({ type: 'namespace' as const, name }));
    const cgroups = observeCgroups();
    const followed = this.options.followChanges === true && this.factory.watch !== undefined;
    return {
      ...emptyKernelState(),
      namespaces,
      links,
      addresses: dumps.flatMap((d) => d.addresses),
      routes: dumps.flatMap((d) => d.routes),
      qdiscs: dumps.flatMap((d) => d.qdiscs),
      classes: dumps.flatMap((d) => d.classes),
      filters: dumps.flatMap((d) => d.filters),
      cgroups,
      stats,
      ...(scope.withStats ? { statsAt } : {}),
      // Namespaces and cgroups are read afresh each time, so they are part of it as they are.
      ...(followed ? { revision: [generations.join(','), namespaces.map((n) => n.name).join(','), JSON.stringify(cgroups)].join('|') } : {}),
    };
  }

  /**
   * One namespace's objects: a full read, or, for a followed namespace whose watch heard
   * nothing since the last full read with the same scope, that read with fresh counters.
   */
  private async read(ns: NetnsLocator, withStats: boolean, wholly: boolean, external: ReadonlySet<string>): Promise<NamespaceRead> {
    const watch = this.options.followChanges === true ? this.factory.watch : undefined;
    if (!watch) return { dump: await dumpNamespace(ns, await this.session(ns), withStats, wholly, external) };
    // The watch is open before the full read, so a change made during it is heard next time.
    const followed = this.follow(ns, watch);
    const scopeKey = `${wholly}|${[...external].sort().join(',')}`;
    const changed = followed.watch.changed();
    const last = followed.last;
    if (!changed && last && last.scopeKey === scopeKey && last.reuses < (this.options.resyncEvery ?? DEFAULT_RESYNC_EVERY)) {
      last.reuses++;
      const dump = withStats ? await refreshClassStats(last.dump, await this.session(ns), (last.classKeys ??= classKeyIndex(last.dump))) : { ...last.dump, stats: new Map() };
      return { dump, generation: last.generation };
    }
    // Forgotten first: the watch is drained now, so a read that fails must not leave the old one standing.
    followed.last = undefined;
    const dump = await dumpNamespace(ns, await this.session(ns), withStats, wholly, external);
    followed.last = { scopeKey, dump, generation: ++this.generation, reuses: 0 };
    return { dump, generation: followed.last.generation };
  }

  /** The namespace's watch; a name that now names another namespace starts afresh (sockets too). */
  private follow(ns: NetnsLocator, open: (ns: NetnsLocator) => ChangeWatch): Followed {
    const identity = native.netnsIdentity(ns);
    const known = this.followed.get(ns);
    if (known && known.identity === identity) return known;
    if (known) this.forget(ns);
    const followed: Followed = { identity, watch: open(ns) };
    this.followed.set(ns, followed);
    return followed;
  }

  execute(plan: Plan): Promise<ExecutionReport> {
    // Not every change is announced (a device's gso_max_size set alone is not: do_setlink
    // only marks it modified), so a namespace Sluice changes is read in full next time.
    for (const op of plan) {
      const o = op.object;
      const ns = o.type === 'namespace' ? o.name : 'netns' in o ? o.netns : undefined;
      const followed = ns === undefined ? undefined : this.followed.get(ns);
      if (followed) followed.last = undefined;
    }
    return new Executor(this.hostOps()).run(plan);
  }

  private hostOps(): HostOps {
    return {
      session: (ns) => this.session(ns),
      forget: (ns) => this.forget(ns),
      // IPv4-only unless the policy is dual-stack: IPv6 would pass unclassified, and its
      // addrconf is most of the cost of bringing a device up, so a dual-stack namespace has
      // IPv6 without it (only the addresses Sluice assigns). lo comes up with the
      // namespace, as the plan expects (plan/fresh.ts, fromNothing).
      createNetns: (name, ipv6) => native.createNetns(name, { ipv6, addressAutoconf: false, loopbackUp: true }),
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
    for (const f of this.followed.values()) f.watch.close();
    this.followed.clear();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await s.then((x) => x.close()).catch(() => undefined);
    if (this.bpf) native.closeFd(this.bpf.fd);
    this.bpf = undefined;
  }
}

export async function openRtnlKernel(options: RtnlKernelOptions = {}): Promise<KernelPort> {
  return new RtnlKernel(options);
}
