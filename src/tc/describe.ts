// Kernel objects named the way tc and ip name them, one line each: for plans, errors
// and inspect. Pure.

import { formatRate, formatSize } from '../units/format';
import { intToIp } from '../net/ipv4';
import { formatHandle } from './handle';
import { assertNever, type FilterObject, type FilterSpec, type ForeignSpec, type KernelObject, type QdiscSpec } from './model';

const placeOf = (netns: string, dev?: string): string => `${dev ? `on ${dev} ` : ''}in ${netns === '.' ? 'host netns' : netns}`;

/** One line naming the object the way tc/ip would; `withPlace` adds "on <dev> in <netns>". */
export function describeObject(o: KernelObject, withPlace = true): string {
  const where = (netns: string, dev?: string): string => (withPlace ? placeOf(netns, dev) : dev ? `on ${dev}` : '');
  return describeWithPlace(o, where).trimEnd();
}

function describeWithPlace(o: KernelObject, where: (netns: string, dev?: string) => string): string {
  switch (o.type) {
    case 'namespace':
      return `namespace ${o.name}`;
    case 'link': {
      const kind = o.spec.kind === 'veth' ? `veth, peer ${o.spec.peerName} in ${o.spec.peerNetns}` : o.spec.kind;
      return `link ${o.name} (${kind}${o.master ? `, master ${o.master}` : ''}${o.up ? ', up' : ''}) ${where(o.netns)}`;
    }
    case 'address':
      return `address ${o.cidr} ${where(o.netns, o.dev)}`;
    case 'route':
      return `route ${o.dst}${o.via ? ` via ${o.via}` : ''}${o.dev ? ` dev ${o.dev}` : ''} ${where(o.netns)}`;
    case 'sysctl':
      return `sysctl ${o.key}=${o.value} ${where(o.netns)}`;
    case 'qdisc':
      return `qdisc ${kindName(o.spec)} ${formatHandle(o.handle)} parent ${formatHandle(o.parent)}${qdiscDetail(o.spec)} ${where(o.netns, o.dev)}`;
    case 'class':
      return `class htb ${formatHandle(o.classid)} parent ${formatHandle(o.parent)} rate ${formatRate(o.spec.rate)} ceil ${formatRate(o.spec.ceil)} prio ${o.spec.prio} quantum ${o.spec.quantum} burst ${formatSize(o.spec.burst)} ${where(o.netns, o.dev)}`;
    case 'filter':
      return `filter ${describeFilter(o)} ${where(o.netns, o.dev)}`;
    case 'cgroup-classid':
      return `cgroup ${o.cgroup} net_cls.classid ${formatHandle(o.classid)}`;
    default:
      return assertNever(o);
  }
}

function qdiscDetail(spec: QdiscSpec): string {
  switch (spec.kind) {
    case 'htb':
      return ` default ${spec.defaultMinor.toString(16)}`;
    case 'pfifo':
      return ` limit ${spec.limitPackets}p`;
    case 'ingress':
    case 'clsact':
    case 'fq_codel':
      return '';
    case 'sfq':
      return ` perturb ${spec.perturbSec}`;
    case 'foreign':
      return foreignDetail(spec);
    default:
      return assertNever(spec);
  }
}

export function formatU32Handle(h: number): string {
  return `${(h >>> 20).toString(16)}:${((h >>> 12) & 0xff).toString(16)}:${(h & 0xfff).toString(16)}`;
}

/** The kernel's name for a spec's kind (a foreign one's own). */
export const kindName = (spec: QdiscSpec | FilterSpec): string => (spec.kind === 'foreign' ? spec.tcKind : spec.kind);

const foreignDetail = (spec: ForeignSpec): string => ` (foreign: ${spec.problem})`;

function describeFilter(f: FilterObject): string {
  const head = `${kindName(f.spec)} parent ${formatHandle(f.parent)} prio ${f.prio}`;
  if (f.spec.kind === 'foreign') return `${head} handle ${f.handle.toString(16)}${foreignDetail(f.spec)}`;
  if (f.spec.kind === 'bpf') return `${head} bpf ${f.spec.program}${f.spec.classid ? ` → ${formatHandle(f.spec.classid)}` : ''}`;
  const s = f.spec;
  if (s.divisor !== undefined) return `${head} handle ${formatU32Handle(f.handle)} hash table, ${s.divisor} buckets`;
  const keys = s.keys.map((k) => (k.mask === 0 ? 'all' : `${intToIp(k.value)}/${maskBits(k.mask)}@${k.off}`)).join(' ');
  const link = s.link !== undefined ? ` → table ${formatU32Handle(s.link)}` : '';
  const target = s.classid !== undefined ? ` → ${formatHandle(s.classid)}` : '';
  const actions = (s.actions ?? []).map((a) => ` → mirred ${a.action} ${a.targetDev}`).join('');
  return `${head} handle ${formatU32Handle(f.handle)} match ${keys}${link}${target}${actions}`;
}

const maskBits = (mask: number): number => (mask >>> 0).toString(2).replace(/0/g, '').length;
