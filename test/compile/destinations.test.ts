import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompiledPolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';
import { formatHandle, majorOf, makeHandle, type TcHandle } from '../../src/tc/handle';
import { emptyKernelState, type Direction, type FilterObject } from '../../src/tc/model';
import { ipToInt } from '../../src/net/ipv4';
import { parseIpv6 } from '../../src/net/ipv6';

const ROOT_QDISC = makeHandle(1, 0);
const EXAMPLE = readFileSync('policies/destinations/destinations.yaml', 'utf8');

function load(text: string): Policy {
  const r = parsePolicyTexts([{ path: 'd.yaml', text }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.policy;
}

/**
 * The packet's class as the kernel's u32 would find it on `parent` (a test-side reading
 * of the compiled filters, hash tables and all), and how many keys it compared: the
 * per-packet cost. `header`: the IP header's bytes that matter (addresses at their offsets).
 */
function classify(filters: readonly FilterObject[], parent: TcHandle, header: DataView): { classid: TcHandle | undefined; compared: number } {
  const onParent = filters.filter((f) => f.parent === parent && f.spec.kind === 'u32');
  const table = (ht: number) => onParent.filter((f) => f.handle >>> 20 === ht && (f.handle & 0xfff) !== 0).sort((a, b) => (a.handle & 0xfffff) - (b.handle & 0xfffff));
  let compared = 0;
  const matches = (f: FilterObject): boolean => {
    if (f.spec.kind !== 'u32') return false;
    return f.spec.keys.every((k) => {
      compared++;
      return ((header.getUint32(k.off) & k.mask) >>> 0) === (k.value >>> 0);
    });
  };
  for (const f of table(0x800)) {
    if (f.spec.kind !== 'u32' || !matches(f)) continue;
    if (f.spec.classid !== undefined) return { classid: f.spec.classid, compared };
    const link = f.spec.link! >>> 20;
    const { mask, off } = f.spec.hashKey!;
    const shift = mask === 0 ? 0 : 31 - Math.clz32(mask & -mask);
    const bucket = ((header.getUint32(off) & mask) >>> 0) >>> shift;
    for (const e of table(link).filter((x) => ((x.handle >>> 12) & 0xff) === (mask === 0 ? 0 : bucket & 0xff))) if (matches(e) && e.spec.kind === 'u32') return { classid: e.spec.classid, compared };
  }
  return { classid: undefined, compared };
}

/** An IPv4 or IPv6 header with `peer` and `container` where `direction` puts them. */
function header(direction: Direction, peer: string, container: string): DataView {
  const v6 = peer.includes(':');
  const view = new DataView(new ArrayBuffer(40));
  view.setUint32(0, v6 ? 0x60000000 : 0x45000000);
  const put = (at: number, address: string) => {
    if (v6) parseIpv6(address)!.forEach((w, i) => view.setUint32(at + 4 * i, w));
    else view.setUint32(at, ipToInt(address));
  };
  const [src, dst] = direction === 'download' ? [peer, container] : [container, peer];
  put(v6 ? 8 : 12, src);
  put(v6 ? 24 : 16, dst);
  return view;
}

const rootClasses = (c: CompiledPolicy, dev: string) => c.state.classes.filter((k) => k.dev === dev && majorOf(k.classid) === 1);

describe('destinations: the set-first trees', () => {
  const policy = load(EXAMPLE);
  const compiled = compilePolicy(policy);
  const setClassOf = (dev: string, ceil: number): TcHandle => rootClasses(compiled, dev).find((k) => k.spec.kind === 'htb' && k.spec.ceil === ceil && k.classid !== 0x10001 && k.classid !== 0x10002)!.classid;

  it('renders one class per set under the link (ceil = its capacity, rate = its containers\' guarantees there) and one per container in each set\'s own HTB', () => {
    for (const [dev, dir] of [['sl-dbr0', 'download'], ['sl-difb0', 'upload']] as const) {
      const sets = rootClasses(compiled, dev).filter((k) => k.classid !== 0x10001 && k.classid !== 0x10002);
      expect(sets.map((k) => (k.spec.kind === 'htb' ? [k.spec.rate, k.spec.ceil] : [])).sort()).toEqual([[180e6, 1e9], [60e6, 100e6]].sort());
      for (const s of sets) {
        const inner = compiled.state.classes.filter((k) => k.dev === dev && majorOf(k.classid) === (s.classid & 0xffff) && (k.classid & 0xffff) !== 1);
        expect(inner).toHaveLength(4);
      }
      const internet = setClassOf(dev, 100e6);
      const frontend = compiled.state.classes.find((k) => k.dev === dev && majorOf(k.classid) === (internet & 0xffff) && k.spec.kind === 'htb' && k.spec.ceil === 20e6);
      expect(frontend, `${dir}: frontend's internet class capped at 20mbit`).toBeDefined();
    }
  });

  it('classifies by the peer (source downloading, destination uploading) into its set, then by the container into its class', () => {
    const frontend = compiled.containers.find((c) => c.name === 'frontend')!;
    for (const [dev, dir] of [['sl-dbr0', 'download'], ['sl-difb0', 'upload']] as const) {
      const cluster = setClassOf(dev, 1e9);
      const internet = setClassOf(dev, 100e6);
      const at = (peer: string, container = frontend.address!) => classify(compiled.state.filters.filter((f) => f.dev === dev), ROOT_QDISC, header(dir, peer, container)).classid;
      expect(formatHandle(at('10.7.3.9')!)).toBe(formatHandle(cluster));
      expect(formatHandle(at('198.18.254.2')!)).toBe(formatHandle(cluster));
      expect(formatHandle(at('8.8.8.8')!)).toBe(formatHandle(internet));
      expect(formatHandle(at('11.0.0.1')!)).toBe(formatHandle(internet));
      expect(formatHandle(at('fd12::1', frontend.address6!)!)).toBe(formatHandle(cluster));
      expect(formatHandle(at('2001:db8::1', frontend.address6!)!)).toBe(formatHandle(internet));
      // Inside the set's HTB, the container's own class there.
      const inSet = classify(compiled.state.filters.filter((f) => f.dev === dev), makeHandle(internet & 0xffff, 0), header(dir, '8.8.8.8', frontend.address!)).classid!;
      const cls = compiled.state.classes.find((k) => k.classid === inSet)!;
      expect(cls.spec.kind === 'htb' && cls.spec.ceil).toBe(20e6);
    }
  });

  it('per packet, the work does not grow with the number of CIDRs or containers (one hash probe per prefix length)', () => {
    const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`).join(', ');
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `---\napiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: p${i} }\nspec:\n  match: { ip: 198.18.${Math.floor(i / 250)}.${(i % 250) + 2} }\n  download: { peers: { internet: { ceiling: 20mbit } } }\n  upload: { peers: { internet: { ceiling: 20mbit } } }\n`).join('');
    const policyOf = (nCidrs: number, nPods: number) => load(`apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: s }\nspec:\n  subnet: 198.18.0.0/20\n  capacity: { download: 1gbit, upload: 1gbit }\n  peers:\n    cluster: [${cidrs(nCidrs)}]\n    internet: {}\n${pods(nPods)}`);
    const cost = (p: Policy) => {
      const c = compilePolicy(p);
      const f = c.state.filters.filter((x) => x.dev === 'sl-br0');
      return ['10.0.1.1', '10.49.1.1', '8.8.8.8'].map((peer) => classify(f, ROOT_QDISC, header('download', peer, '198.18.0.2')).compared);
    };
    // The version key, then one bucket of the one prefix length (an entry at most here), then the default: the same bound for 1 and 50 CIDRs.
    for (const compared of [...cost(policyOf(50, 200)), ...cost(policyOf(1, 1))]) expect(compared).toBeLessThanOrEqual(3);
  });

  it('a second compile over what the first made changes nothing; adding a CIDR or changing a set capacity only touches the root', () => {
    const state = { ...emptyKernelState(), ...compiled.state };
    expect(diff(compilePolicy(policy, { observed: state }).state, state).filter((op) => op.object.type !== 'namespace')).toEqual([]);
    const wider = compilePolicy(load(EXAMPLE.replace('cluster: [10.0.0.0/8,', 'cluster: [10.0.0.0/8, 172.16.0.0/12,').replace('capacity: { download: 100mbit, upload: 100mbit }', 'capacity: { download: 80mbit, upload: 100mbit }')), { observed: state });
    const ops = diff(wider.state, state);
    // Nothing deleted (no class, queue or filter made anew): the new CIDR's table, jump and entry
    // are added on the root; the internet set's class changes in place (its members take no ceiling from it).
    expect(ops.filter((op) => op.op !== 'create' && op.op !== 'change')).toEqual([]);
    const created = ops.filter((op) => op.op === 'create');
    expect(created.map((op) => (op.object.type === 'filter' ? `${op.object.dev} ${formatHandle(op.object.parent)}` : op.object.type)).sort()).toEqual(['sl-dbr0 1:', 'sl-dbr0 1:', 'sl-dbr0 1:', 'sl-difb0 1:', 'sl-difb0 1:', 'sl-difb0 1:']);
    const changed = ops.filter((op) => op.op === 'change');
    expect(changed.every((op) => op.object.type === 'class' && op.object.dev === 'sl-dbr0')).toBe(true);
    expect(changed).toHaveLength(1);
  });
});
