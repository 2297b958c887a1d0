// The tc(8) command for a Sluice kernel object, so benchmarks can load the *identical*
// objects with `tc -batch` (or one `tc` process per object) next to Sluice's netlink.
import { formatHandle } from '../src/tc/handle';
import { ETH_P_IP, type KernelObject } from '../src/tc/model';

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const u32h = (h: number): string => `${(h >>> 20).toString(16)}:${((h >>> 12) & 0xff).toString(16)}:${(h & 0xfff).toString(16)}`;

export function tcCommand(o: KernelObject): string | undefined {
  switch (o.type) {
    case 'qdisc': {
      const s = o.spec;
      if (s.kind === 'ingress') return `qdisc add dev ${o.dev} ingress`;
      const at = `qdisc add dev ${o.dev} parent ${formatHandle(o.parent)} handle ${formatHandle(o.handle)}`;
      if (s.kind === 'htb') return `${at} htb default ${s.defaultMinor.toString(16)} r2q ${s.r2q}`;
      if (s.kind === 'pfifo') return `${at} pfifo limit ${s.limitPackets}`;
      return undefined;
    }
    case 'class': {
      const s = o.spec;
      return `class add dev ${o.dev} parent ${formatHandle(o.parent)} classid ${formatHandle(o.classid)} htb rate ${s.rate}bit ceil ${s.ceil}bit burst ${s.burst}b cburst ${s.cburst}b prio ${s.prio} quantum ${s.quantum}`;
    }
    case 'filter': {
      if (o.spec.kind !== 'u32') return undefined;
      const s = o.spec;
      const table = o.handle >>> 20;
      const handle = table === 0x800 ? ` handle ${u32h(o.handle)}` : '';
      const head = `filter add dev ${o.dev} parent ${formatHandle(o.parent)} prio ${o.prio}${handle} protocol ${o.protocol === ETH_P_IP ? 'ip' : 'all'} u32`;
      if (s.divisor !== undefined) return `filter add dev ${o.dev} parent ${formatHandle(o.parent)} prio ${o.prio} handle ${table.toString(16)}: protocol ip u32 divisor ${s.divisor}`;
      const where = table === 0x800 ? '' : `ht ${table.toString(16)}:${((o.handle >>> 12) & 0xff).toString(16)}:`;
      const keys = s.keys.map((k) => `match u32 ${hex(k.value)} ${hex(k.mask)} at ${k.off}`).join(' ');
      const hash = s.hashKey ? ` hashkey mask ${hex(s.hashKey.mask)} at ${s.hashKey.off}` : '';
      const link = s.link !== undefined ? ` link ${(s.link >>> 20).toString(16)}:` : '';
      const flow = s.classid !== undefined ? ` flowid ${formatHandle(s.classid)}` : '';
      const act = (s.actions ?? []).map((a) => (a.kind === 'mirred' ? ` action mirred egress redirect dev ${a.targetDev}` : '')).join('');
      return `${head} ${where} ${keys}${hash}${link}${flow}${act}`;
    }
    default:
      return undefined;
  }
}
