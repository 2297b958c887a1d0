// Reading what Sluice owns in one namespace back into the model's shapes, so that
// diff(desired, observed) is empty right after applying `desired`.
//
// Ownership: a namespace named `sl-…` is wholly Sluice's; anywhere else (the host) only
// links named `sl-…` and what hangs off them count. Veth peers are named by pairing the
// ends found in the namespaces observed together (IFLA_LINK on each end points at the
// other); an end whose partner is outside the observed namespaces keeps peer "?".
//
// A qdisc or filter on a device Sluice shapes that no codec reads (a kind Sluice does not
// model, a BPF program it did not load, an action it does not know) is observed as a
// `foreign` spec carrying the decode error: it stays visible, and the diff replaces it
// where Sluice wants an object with that identity and deletes it otherwise, once, instead
// of trying every tick to create over it. A class no codec reads is left out (and listed
// in `problems`): classes of a kind other than HTB only exist under a qdisc of that kind,
// itself foreign, whose replacement takes them along.

import { asHandle, majorOf, makeHandle, TC_H_INGRESS, TC_H_ROOT } from '../../tc/handle';
import { OWNED_PREFIX, type AddressObject, type ClassObject, type FilterObject, type ForeignSpec, type HtbXstats, type LinkObject, type LinkSpec, type NetnsLocator, type QdiscObject, type RouteObject, type TcCounters } from '../../tc/model';
import { objectKey } from '../../tc/identity';
import { RTM } from './constants';
import { addressDumpBody, infoPrio, infoProtocol, linkDumpBody, parseAddress, parseRoute, parseTc, routeDumpBody, tcmsg, type LinkInfo, type TcMessage } from './messages';
import type { NetnsSession } from './session';
import { canonicalU32Handle, isU32RootTableEntry, rememberKernelHandle } from './tc/u32handles';
import { decodeClassOptions, decodeCounters, decodeFilterOptions, decodeHtbXstats, decodeQdiscOptions, isDecodeError, statsApp, type TcDecodeError } from './tc';

export interface NamespaceDump {
  readonly netns: NetnsLocator;
  readonly links: LinkInfo[];
  readonly ownedLinks: LinkInfo[];
  readonly addresses: AddressObject[];
  readonly routes: RouteObject[];
  readonly qdiscs: QdiscObject[];
  readonly classes: ClassObject[];
  readonly filters: FilterObject[];
  readonly stats: Map<string, TcCounters & { htb?: HtbXstats }>;
  /** What the codecs could not read, each also observed as foreign or left out (see above). */
  readonly problems: TcDecodeError[];
}

export const namespaceIsOwned = (ns: NetnsLocator): boolean => !ns.startsWith('/') && ns.startsWith(OWNED_PREFIX);

/**
 * Every device of a namespace Sluice owns (lo reported as external); elsewhere its sl-
 * devices and the devices it shapes without owning them (`external`, e.g. a Docker bridge).
 */
function ownedLinks(wholly: boolean, links: readonly LinkInfo[], external: ReadonlySet<string>): LinkInfo[] {
  return wholly ? [...links] : links.filter((l) => l.name.startsWith(OWNED_PREFIX) || external.has(l.name));
}

export async function dumpNamespace(ns: NetnsLocator, session: NetnsSession, withStats: boolean, wholly = namespaceIsOwned(ns), external: ReadonlySet<string> = new Set()): Promise<NamespaceDump> {
  session.invalidateLinks();
  // Links, addresses, routes and qdiscs in one exchange (one dump after another, as before).
  const [linkReplies, addressReplies, routeReplies, qdiscReplies] = await session.dumps([
    { type: RTM.GETLINK, body: linkDumpBody() },
    { type: RTM.GETADDR, body: addressDumpBody() },
    { type: RTM.GETROUTE, body: routeDumpBody() },
    { type: RTM.GETQDISC, body: tcmsg({ ifindex: 0, handle: 0, parent: 0, info: 0 }) },
  ]);
  const links = session.adoptLinkDump(linkReplies!);
  const owned = ownedLinks(wholly, links, external);
  const ownedIndex = new Map(owned.map((l) => [l.index, l.name]));
  const nameOf = new Map(links.map((l) => [l.index, l.name]));
  const ctx = { devOf: (i: number) => nameOf.get(i) };
  const stats = new Map<string, TcCounters & { htb?: HtbXstats }>();
  const problems: TcDecodeError[] = [];

  const addresses = addressReplies!
    .map(parseAddress)
    .flatMap((a) => (a && ownedIndex.has(a.index) && ownedIndex.get(a.index) !== 'lo' ? [{ type: 'address' as const, netns: ns, dev: ownedIndex.get(a.index)!, cidr: a.cidr }] : []));

  const routes = routeReplies!
    .map(parseRoute)
    .flatMap((r): RouteObject[] => {
      if (!r) return [];
      const dev = r.oif !== undefined ? ownedIndex.get(r.oif) : undefined;
      if (!wholly && !dev) return [];
      return [{ type: 'route', netns: ns, dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(dev ? { dev } : {}) }];
    });

  const qdiscs: QdiscObject[] = [];
  for (const m of qdiscReplies!.map(parseTc)) {
    const dev = m ? ownedIndex.get(m.ifindex) : undefined;
    // Handle 0 is the kernel's default qdisc, not one anybody created.
    if (!m || !dev || m.handle === 0) continue;
    const decoded = decodeQdiscOptions(m.kind, m.options);
    const spec = isDecodeError(decoded) ? foreign(decoded, m.kind, problems) : decoded;
    const q: QdiscObject = { type: 'qdisc', netns: ns, dev, handle: asHandle(m.handle), parent: asHandle(m.parent), spec };
    qdiscs.push(q);
    if (withStats) stats.set(objectKey(q), decodeCounters(m.stats2));
  }

  const classes: ClassObject[] = [];
  const filters: FilterObject[] = [];
  // By device once: filtering every qdisc per device was 2 million tests a read of a host
  // namespace with 1,000 containers' ports, every churn tick.
  const qdiscsOn = new Map<string, QdiscObject[]>();
  for (const q of qdiscs) {
    const onDev = qdiscsOn.get(q.dev);
    if (onDev) onDev.push(q);
    else qdiscsOn.set(q.dev, [q]);
  }
  // Every owned device's classes and filters in one exchange, not one round trip each
  // (~200 at 100 pods, each a turn of the event loop); read back in the same order.
  const tcDumps: ({ readonly link: LinkInfo } & ({ readonly kind: 'classes' } | { readonly kind: 'filters'; readonly parent: number }))[] = [];
  for (const link of owned) {
    const onDev = qdiscsOn.get(link.name) ?? [];
    if (onDev.some((q) => q.spec.kind === 'htb')) tcDumps.push({ link, kind: 'classes' });
    // Filters hang on a device's root and ingress qdiscs, and on the HTB of each group
    // (the leaf qdisc of the group's class, with its own address table).
    for (const root of onDev.filter((q) => q.parent === TC_H_ROOT || q.parent === TC_H_INGRESS || q.spec.kind === 'htb')) {
      tcDumps.push({ link, kind: 'filters', parent: root.handle });
    }
  }
  const tcReplies = await session.dumps(
    tcDumps.map((d) => ({
      type: d.kind === 'classes' ? RTM.GETTCLASS : RTM.GETTFILTER,
      body: tcmsg({ ifindex: d.link.index, handle: 0, parent: d.kind === 'classes' ? 0 : d.parent, info: 0 }),
    })),
  );
  tcDumps.forEach((d, i) => {
    const replies = tcReplies[i]!;
    switch (d.kind) {
      case 'classes':
        for (const m of replies.map(parseTc)) {
          if (!m) continue;
          const spec = decodeClassOptions(m.kind, m.options);
          if (isDecodeError(spec)) {
            problems.push(spec);
            continue;
          }
          // The kernel reports a class directly under its qdisc with parent "root"; the
          // model (and tc's own syntax) says parent <major>: .
          const parent = m.parent === TC_H_ROOT ? makeHandle(majorOf(asHandle(m.handle)), 0) : asHandle(m.parent);
          const c: ClassObject = { type: 'class', netns: ns, dev: d.link.name, classid: asHandle(m.handle), parent, spec };
          classes.push(c);
          if (withStats) {
            stats.set(objectKey(c), decodeCounters(m.stats2, decodeHtbXstats(statsApp(m.stats2) ?? m.xstats)));
          }
        }
        return;
      case 'filters':
        for (const m of replies.map(parseTc)) if (m) filters.push(...decodeFilter(ns, d.link.name, d.parent, m, ctx, problems));
        return;
    }
  });
  return { netns: ns, links, ownedLinks: owned, addresses, routes, qdiscs, classes, filters, stats, problems };
}

/** Each shaped device's classes by class id, with their keys in ObservedState.stats. */
export type ClassKeyIndex = ReadonlyMap<string, ReadonlyMap<number, string>>;

export function classKeyIndex(dump: NamespaceDump): ClassKeyIndex {
  const index = new Map<string, Map<number, string>>();
  for (const c of dump.classes) {
    let byId = index.get(c.dev);
    if (!byId) index.set(c.dev, (byId = new Map()));
    byId.set(c.classid >>> 0, objectKey(c));
  }
  return index;
}

/**
 * `dump` with fresh class counters, for a namespace whose objects have not changed since
 * it was taken (a watch says so): one class dump per shaped device instead of a full
 * read. Qdisc counters are left out: HTB already counts a leaf queue's drops in its class.
 * The keys come from `index`, made once: the same strings tick after tick.
 */
export async function refreshClassStats(dump: NamespaceDump, session: NetnsSession, index: ClassKeyIndex): Promise<NamespaceDump> {
  const stats = new Map<string, TcCounters & { htb?: HtbXstats }>();
  const shaped = dump.ownedLinks.flatMap((link) => {
    const byId = index.get(link.name);
    return byId ? [{ link, byId }] : [];
  });
  // In one exchange, as in a full read.
  const replies = await session.dumps(shaped.map(({ link }) => ({ type: RTM.GETTCLASS, body: tcmsg({ ifindex: link.index, handle: 0, parent: 0, info: 0 }) })));
  shaped.forEach(({ byId }, i) => {
    for (const reply of replies[i]!) {
      const m = parseTc(reply);
      const key = m && byId.get(m.handle);
      if (m && key) stats.set(key, decodeCounters(m.stats2, decodeHtbXstats(statsApp(m.stats2) ?? m.xstats)));
    }
  });
  return { ...dump, stats };
}

function decodeFilter(ns: NetnsLocator, dev: string, parent: number, m: TcMessage, ctx: { devOf(i: number): string | undefined }, problems: TcDecodeError[]): FilterObject[] {
  // The per-priority header entry (handle 0) and u32's implicit root tables (800:, 801:…)
  // are not objects anybody created.
  const u32 = m.kind === 'u32';
  if (m.handle === 0 || (u32 && isU32RootTableEntry(m.handle))) return [];
  const decoded = decodeFilterOptions(m.kind, m.options, ctx);
  const spec = isDecodeError(decoded) ? foreign(decoded, m.kind, problems) : decoded;
  const handle = u32 ? canonicalU32Handle(m.handle) : m.handle;
  const filter: FilterObject = { type: 'filter', netns: ns, dev, parent: asHandle(parent), prio: infoPrio(m.info), protocol: infoProtocol(m.info), handle, spec };
  if (handle !== m.handle >>> 0) rememberKernelHandle(filter, m.handle);
  return [filter];
}

/** The observed spec of an object no codec reads: the error, kept (see the top of this file). */
function foreign(error: TcDecodeError, tcKind: string, problems: TcDecodeError[]): ForeignSpec {
  problems.push(error);
  return { kind: 'foreign', tcKind, problem: error.message };
}

/** Link objects for every dumped namespace, with veth ends paired across namespaces. */
export function linkObjects(dumps: readonly NamespaceDump[]): LinkObject[] {
  const out: LinkObject[] = [];
  const veths = vethIndex(dumps);
  for (const d of dumps) {
    const nameOf = new Map(d.links.map((l) => [l.index, l.name]));
    for (const l of d.ownedLinks) {
      out.push({
        type: 'link',
        netns: d.netns,
        name: l.name,
        up: l.up,
        mtu: l.mtu,
        ...(l.gsoMaxSize !== undefined ? { gsoMaxSize: l.gsoMaxSize } : {}),
        ...(l.masterIndex !== undefined && nameOf.get(l.masterIndex) ? { master: nameOf.get(l.masterIndex)! } : {}),
        ...(l.isolated !== undefined ? { isolated: l.isolated } : {}),
        spec: specOf(l, d, veths),
      });
    }
  }
  return out;
}

/** Veth ends by "index/peer index": ifindexes are per namespace, so a key may name several. */
type VethIndex = ReadonlyMap<string, readonly { readonly d: NamespaceDump; readonly p: LinkInfo }[]>;

// Built once per observation: looking each end's partner up among every dumped link was
// quadratic, and at 1,000 containers took most of a tick (12 of 31 busy seconds in a churn).
function vethIndex(dumps: readonly NamespaceDump[]): VethIndex {
  const index = new Map<string, { d: NamespaceDump; p: LinkInfo }[]>();
  for (const d of dumps) {
    for (const p of d.links) {
      if (p.kind !== 'veth') continue;
      const key = `${p.index}/${p.peerIndex}`;
      const at = index.get(key);
      if (at) at.push({ d, p });
      else index.set(key, [{ d, p }]);
    }
  }
  return index;
}

function specOf(l: LinkInfo, own: NamespaceDump, veths: VethIndex): LinkSpec {
  if (l.kind === 'bridge') return { kind: 'bridge' };
  if (l.kind === 'ifb') return { kind: 'ifb' };
  if (l.kind !== 'veth') return { kind: 'external' };
  const partner = (veths.get(`${l.peerIndex}/${l.index}`) ?? []).filter(({ d, p }) => d !== own || p !== l);
  const match = partner.length === 1 ? partner[0] : partner.find((x) => x.d !== own);
  return match ? { kind: 'veth', peerName: match.p.name, peerNetns: match.d.netns } : { kind: 'veth', peerName: '?', peerNetns: '?' };
}
