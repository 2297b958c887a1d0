// bench/netlinkPackage: the `netlink` npm package's generated rtnetlink codecs against
// Sluice's own (src/kernel/rtnl/messages.ts, attrs.ts) for links, addresses and routes,
// on the same messages: parsing the dump of 10,000 containers and building the requests
// that create them. Both codecs produce Sluice's shapes (LinkInfo, { index, cidr },
// RouteInfo; request bodies), so the comparison includes what Sluice would have to add
// around the package. Rounds alternate which codec goes first. Also checks that the
// package reads every dumped message, and every request Sluice builds, as Sluice does.
//
// The dump is real kernel bytes: 20 containers applied by Sluice in sl-nlp-* namespaces,
// dumped, destroyed, then repeated to 10,000 (the codecs' cost does not depend on which
// container a message describes). Run as root: npx tsx bench/netlinkPackage.ts [--rounds N]

import { AttrStream, ifla, rt } from 'netlink';
import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/app/ownership';
import { nativeProbe } from '../src/app/runtime';
import { compilePolicy } from '../src/compile';
import { deleteNetns, listNetns } from '../src/kernel/native';
import { AF_INET, IFLA_BR_MCAST_SNOOPING, IFLA_INFO, RT_SCOPE, RT_TABLE_MAIN, RTM, RTN_UNICAST, RTPROT, VETH_INFO_PEER } from '../src/kernel/rtnl/constants';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { addressBody, addressDumpBody, frame, linkCreateBody, linkDumpBody, NLMSG_HDRLEN, parseAddress, parseLink, parseRoute, routeBody, routeDumpBody, type LinkCreate, type LinkInfo, type RouteInfo } from '../src/kernel/rtnl/messages';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { syntheticPolicyDirect } from './fixtures';

const CONTAINERS = 10_000;
const RECORDED = 20;
const PREFIX = 'sl-nlp-';

interface Dump {
  readonly links: Buffer[];
  readonly addresses: Buffer[];
  readonly routes: Buffer[];
}

interface Requests {
  readonly links: LinkCreate[];
  readonly addresses: { cidr: string; index: number }[];
  readonly routes: { dst: string; via?: string; oif?: number }[];
}

function cleanup(): void {
  for (const ns of listNetns()) if (ns.startsWith(PREFIX)) deleteNetns(ns);
}

/** The kernel's link, address and route dumps of RECORDED applied containers and their host. */
async function recordDumps(): Promise<{ host: Dump; containers: Dump[] }> {
  cleanup();
  const policy = syntheticPolicyDirect(RECORDED, { name: 'nlp', hostNetns: `${PREFIX}host`, namespacePrefix: `${PREFIX}c` });
  const kernel = new RtnlKernel();
  const applier = new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures());
  try {
    const outcome = await applier.apply(policy);
    if (outcome.report.failed) throw outcome.report.failed.error;
    const dumpOf = async (ns: string): Promise<Dump> => {
      const s = await kernel.session(ns);
      return { links: await s.dump(RTM.GETLINK, linkDumpBody()), addresses: await s.dump(RTM.GETADDR, addressDumpBody()), routes: await s.dump(RTM.GETROUTE, routeDumpBody()) };
    };
    const host = await dumpOf(`${PREFIX}host`);
    const containers: Dump[] = [];
    for (let i = 0; i < RECORDED; i++) containers.push(await dumpOf(`${PREFIX}c${i}`));
    await applier.destroy(policy.host.name, policy);
    return { host, containers };
  } finally {
    await kernel.close();
    cleanup();
  }
}

/** 10,000 containers' worth: the host's veths and every container's dumps, repeated. */
function scaleDump(recorded: { host: Dump; containers: Dump[] }): Dump {
  const repeat = CONTAINERS / RECORDED;
  const isVeth = (m: Buffer): boolean => parseLink(m)?.kind === 'veth';
  const links = [...recorded.host.links.filter((m) => !isVeth(m))];
  const addresses = [...recorded.host.addresses];
  const routes = [...recorded.host.routes];
  for (let r = 0; r < repeat; r++) {
    links.push(...recorded.host.links.filter(isVeth));
    for (const c of recorded.containers) {
      links.push(...c.links);
      addresses.push(...c.addresses);
      routes.push(...c.routes);
    }
  }
  return { links, addresses, routes };
}

/** The link, address and route creations of a 10,000-container apply, as the executor asks for them. */
function buildRequests(): Requests {
  const state = compilePolicy(syntheticPolicyDirect(CONTAINERS)).state;
  const index = new Map<string, number>();
  const ifindex = (ns: string, dev: string): number => {
    const key = `${ns}/${dev}`;
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = index.size + 2));
    return i;
  };
  const links: LinkCreate[] = state.links.flatMap((l): LinkCreate[] => {
    if (l.spec.kind === 'external') return [];
    const base = { name: l.name, kind: l.spec.kind, up: l.up, ...(l.mtu !== undefined ? { mtu: l.mtu } : {}), ...(l.master !== undefined ? { masterIndex: ifindex(l.netns, l.master) } : {}) };
    if (l.spec.kind !== 'veth') return [base];
    // Each pair is created once, from the end listed first; the other end rides along as the peer.
    if (index.has(`peer/${l.spec.peerNetns}/${l.spec.peerName}`)) return [];
    index.set(`peer/${l.netns}/${l.name}`, 0);
    return [{ ...base, peer: { name: l.spec.peerName, netnsFd: 3, up: false, ...(l.mtu !== undefined ? { mtu: l.mtu } : {}) } }];
  });
  const addresses = state.addresses.map((a) => ({ cidr: a.cidr, index: ifindex(a.netns, a.dev) }));
  const routes = state.routes.map((r) => ({ dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(r.dev ? { oif: ifindex(r.netns, r.dev) } : {}) }));
  return { links, addresses, routes };
}

// ------------------------------------------------------------------ the package, adapted

const body = (msg: Buffer): Buffer => msg.subarray(NLMSG_HDRLEN, msg.readUInt32LE(0));
const ipText = (b: Buffer): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));
const streamBytes = (fill: (out: AttrStream) => void): Buffer => {
  const out = new AttrStream();
  fill(out);
  return Buffer.concat(out.bufs);
};

const pkg = {
  parseLink(msg: Buffer): LinkInfo | undefined {
    const { data, attrs } = rt.parseLinkMessage(body(msg));
    if (!attrs.ifname) return undefined;
    // IFLA_LINKINFO and IFLA_LINK stay raw buffers in the package's model.
    const kind = attrs.linkinfo ? ifla.parseInfo(attrs.linkinfo).kind : undefined;
    const link = attrs.link && attrs.link.length >= 4 ? attrs.link.readUInt32LE(0) : undefined;
    const index = data.index ?? 0;
    return {
      index,
      name: attrs.ifname,
      up: data.flags?.up === true,
      mtu: attrs.mtu ?? 0,
      ...(attrs.gsoMaxSize !== undefined ? { gsoMaxSize: attrs.gsoMaxSize } : {}),
      ...(kind ? { kind } : {}),
      ...(attrs.master ? { masterIndex: attrs.master } : {}),
      ...(link !== undefined && link !== index ? { peerIndex: link } : {}),
      ...(attrs.linkNetnsid !== undefined ? { peerNetnsId: attrs.linkNetnsid } : {}),
    };
  },
  parseAddress(msg: Buffer): { index: number; cidr: string } | undefined {
    // Header first, as Sluice's parser does: attributes only for the messages kept.
    const data = rt.parseAddress(msg.subarray(NLMSG_HDRLEN, NLMSG_HDRLEN + rt.__LENGTH_Address));
    if (data.family !== AF_INET) return undefined;
    const attrs = rt.parseAddressAttrs(msg.subarray(NLMSG_HDRLEN + rt.__LENGTH_Address, msg.readUInt32LE(0)));
    const ip = attrs.local ?? attrs.address;
    return ip ? { index: data.index ?? 0, cidr: `${ipText(ip)}/${data.prefixlen ?? 0}` } : undefined;
  },
  parseRoute(msg: Buffer): RouteInfo | undefined {
    const data = rt.parseRoute(msg.subarray(NLMSG_HDRLEN, NLMSG_HDRLEN + rt.__LENGTH_Route));
    if (data.family !== AF_INET || data.table !== RT_TABLE_MAIN) return undefined;
    if (data.protocol !== 'BOOT' && data.protocol !== 'STATIC') return undefined;
    const attrs = rt.parseRouteAttrs(msg.subarray(NLMSG_HDRLEN + rt.__LENGTH_Route, msg.readUInt32LE(0)));
    const dstLen = data.dstLen ?? 0;
    return {
      dst: dstLen === 0 ? 'default' : `${ipText(attrs.dst ?? Buffer.alloc(4))}/${dstLen}`,
      ...(attrs.gateway ? { via: ipText(attrs.gateway) } : {}),
      ...(attrs.oif !== undefined ? { oif: attrs.oif } : {}),
    };
  },
  linkCreateBody(l: LinkCreate): Buffer {
    // The package has no model of IFLA_INFO_DATA (veth peer, bridge options): built with its stream.
    const infoData = (out: AttrStream): void => {
      if (l.kind === 'veth' && l.peer) {
        const p = l.peer;
        const peer = streamBytes((s) => {
          s.emit(rt.formatLink({ index: 0, flags: p.up ? { up: true } : {}, change: p.up ? { up: true } : {} }));
          s.emit(ifla.formatLinkAttrs({ ifname: p.name, netNsFd: p.netnsFd, ...(p.mtu !== undefined ? { mtu: p.mtu } : {}), ...(p.gsoMaxSize !== undefined ? { gsoMaxSize: p.gsoMaxSize } : {}) }));
        });
        out.push(IFLA_INFO.DATA, streamBytes((s) => s.push(VETH_INFO_PEER, peer)));
      }
      if (l.kind === 'bridge') out.push(IFLA_INFO.DATA, streamBytes((s) => s.push(IFLA_BR_MCAST_SNOOPING, Buffer.from([0]))));
    };
    const linkinfo = streamBytes((s) => {
      s.emit(ifla.formatInfo({ kind: l.kind }));
      infoData(s);
    });
    return streamBytes((out) =>
      rt.formatLinkMessage(
        {
          kind: 'link',
          data: { index: 0, flags: l.up ? { up: true } : {}, change: { up: true } },
          attrs: { ifname: l.name, ...(l.mtu !== undefined ? { mtu: l.mtu } : {}), ...(l.masterIndex !== undefined ? { master: l.masterIndex } : {}), ...(l.gsoMaxSize !== undefined ? { gsoMaxSize: l.gsoMaxSize } : {}), linkinfo },
        },
        out,
      ),
    );
  },
  addressBody(cidr: string, index: number): Buffer {
    const [ip, prefix] = cidr.split('/');
    const bytes = ipBytes(ip!);
    return streamBytes((out) => rt.formatAddressMessage({ kind: 'address', data: { family: AF_INET, prefixlen: Number(prefix), scope: RT_SCOPE.UNIVERSE, index }, attrs: { local: bytes, address: bytes } }, out));
  },
  routeBody(dst: string, via: string | undefined, oif: number | undefined): Buffer {
    const [net, len] = dst === 'default' ? ['0.0.0.0', '0'] : dst.split('/');
    const data = { family: AF_INET, dstLen: Number(len), table: RT_TABLE_MAIN, protocol: RTPROT.BOOT, scope: via ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK, type: RTN_UNICAST };
    const attrs = { ...(dst !== 'default' ? { dst: ipBytes(net!) } : {}), ...(via ? { gateway: ipBytes(via) } : {}), ...(oif !== undefined ? { oif } : {}) };
    return streamBytes((out) => rt.formatRouteMessage({ kind: 'route', data, attrs }, out));
  },
};

const own = { parseLink, parseAddress, parseRoute, linkCreateBody, addressBody, routeBody };
type Codec = typeof own;

// ------------------------------------------------------------------ correctness

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Mismatches, per kind: dumped messages read, and Sluice's requests read back by both parsers. */
function checkAgreement(dump: Dump, req: Requests): string[] {
  const problems: string[] = [];
  const compare = (what: string, msgs: readonly Buffer[], a: (m: Buffer) => unknown, b: (m: Buffer) => unknown): void => {
    const bad = msgs.filter((m) => !sameJson(a(m), b(m)));
    if (bad.length) problems.push(`${what}: ${bad.length} of ${msgs.length} differ, e.g. own ${JSON.stringify(a(bad[0]!))} vs package ${JSON.stringify(b(bad[0]!))}`);
  };
  compare('dumped links', dump.links, own.parseLink, pkg.parseLink);
  compare('dumped addresses', dump.addresses, own.parseAddress, pkg.parseAddress);
  compare('dumped routes', dump.routes, own.parseRoute, pkg.parseRoute);
  // Requests: each codec's bytes, framed, read by Sluice's parser and the package's.
  const framed = (type: number, bytes: Buffer): Buffer => frame(type, 0, 1, bytes);
  const links = req.links.slice(0, 200);
  compare('Sluice-built link requests', links.map((l) => framed(RTM.NEWLINK, own.linkCreateBody(l))), own.parseLink, pkg.parseLink);
  compare('package-built vs Sluice-built link requests', links.map((l, i) => Buffer.concat([framed(RTM.NEWLINK, own.linkCreateBody(l)), Buffer.from([i])])), (m) => own.parseLink(m), (m) => own.parseLink(framed(RTM.NEWLINK, pkg.linkCreateBody(links[m[m.length - 1]!]!))));
  const addrs = req.addresses.slice(0, 200);
  compare('package-built address requests', addrs.map((a) => framed(RTM.NEWADDR, own.addressBody(a.cidr, a.index))), own.parseAddress, pkg.parseAddress);
  compare('package-built vs Sluice-built address bytes', addrs.map((a, i) => Buffer.concat([own.addressBody(a.cidr, a.index), Buffer.from([i])])), (m) => m.subarray(0, -1).toString('hex'), (m) => pkg.addressBody(addrs[m[m.length - 1]!]!.cidr, addrs[m[m.length - 1]!]!.index).toString('hex'));
  const routes = req.routes.slice(0, 200);
  compare('package-built vs Sluice-built route bytes', routes.map((r, i) => Buffer.concat([own.routeBody(r.dst, r.via, r.oif), Buffer.from([i])])), (m) => m.subarray(0, -1).toString('hex'), (m) => { const r = routes[m[m.length - 1]!]!; return pkg.routeBody(r.dst, r.via, r.oif).toString('hex'); });
  return problems;
}

// ------------------------------------------------------------------ timing

interface Sample {
  readonly parseLinks: number;
  readonly parseAddresses: number;
  readonly parseRoutes: number;
  readonly buildLinks: number;
  readonly buildAddresses: number;
  readonly buildRoutes: number;
}
type Part = keyof Sample;
const PARTS: readonly Part[] = ['parseLinks', 'parseAddresses', 'parseRoutes', 'buildLinks', 'buildAddresses', 'buildRoutes'];

let sink = 0;
function timed(run: () => number): number {
  const t = performance.now();
  sink += run();
  return performance.now() - t;
}

function sample(c: Codec, dump: Dump, req: Requests): Sample {
  const count = <T>(xs: readonly T[], f: (x: T) => unknown): number => {
    let n = 0;
    for (const x of xs) if (f(x) !== undefined) n++;
    return n;
  };
  return {
    parseLinks: timed(() => count(dump.links, c.parseLink)),
    parseAddresses: timed(() => count(dump.addresses, c.parseAddress)),
    parseRoutes: timed(() => count(dump.routes, c.parseRoute)),
    buildLinks: timed(() => count(req.links, (l) => frame(RTM.NEWLINK, 0, 1, c.linkCreateBody(l)))),
    buildAddresses: timed(() => count(req.addresses, (a) => frame(RTM.NEWADDR, 0, 1, c.addressBody(a.cidr, a.index)))),
    buildRoutes: timed(() => count(req.routes, (r) => frame(RTM.NEWROUTE, 0, 1, c.routeBody(r.dst, r.via, r.oif)))),
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 15;
  const dump = scaleDump(await recordDumps());
  const req = buildRequests();
  console.log(`bench/netlinkPackage: ${CONTAINERS} containers; dump ${dump.links.length} links, ${dump.addresses.length} addresses, ${dump.routes.length} routes (kernel bytes); build ${req.links.length} link, ${req.addresses.length} address, ${req.routes.length} route requests`);
  const problems = checkAgreement(dump, req);
  console.log(problems.length ? `agreement: ${problems.length} differences\n  ${problems.join('\n  ')}` : 'agreement: the package reads every message as Sluice does, and builds the same requests');
  const times: Record<'own' | 'pkg', Sample[]> = { own: [], pkg: [] };
  for (let r = 0; r < rounds + 2; r++) {
    const order: ('own' | 'pkg')[] = r % 2 === 0 ? ['own', 'pkg'] : ['pkg', 'own'];
    for (const name of order) {
      const s = sample(name === 'own' ? own : pkg, dump, req);
      if (r >= 2) times[name].push(s); // two warm-up rounds
    }
  }
  console.log(`median of ${rounds} alternating rounds (ms)`);
  console.log(`  ${'part'.padEnd(16)}${'Sluice'.padStart(9)}${'package'.padStart(9)}${'package/Sluice'.padStart(16)}`);
  let ownTotal = 0;
  let pkgTotal = 0;
  for (const part of PARTS) {
    const a = median(times.own.map((s) => s[part]));
    const b = median(times.pkg.map((s) => s[part]));
    ownTotal += a;
    pkgTotal += b;
    console.log(`  ${part.padEnd(16)}${a.toFixed(1).padStart(9)}${b.toFixed(1).padStart(9)}${`${(b / a).toFixed(2)}x`.padStart(16)}`);
  }
  console.log(`  ${'total'.padEnd(16)}${ownTotal.toFixed(1).padStart(9)}${pkgTotal.toFixed(1).padStart(9)}${`${(pkgTotal / ownTotal).toFixed(2)}x`.padStart(16)}`);
  if (sink < 0) console.log(sink);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

