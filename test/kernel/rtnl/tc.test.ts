// The tc codecs against bytes the real kernel reported (fixtures/tc.json, recorded by
// fixtures/record.ts): each recorded object decodes, encodes back to what the kernel
// holds, and decodes again to the same spec. "What the kernel holds" is compared
// attribute by attribute, for every attribute Sluice sends, modulo what the kernel fills
// in or does not echo (KERNEL_FILLED and NOT_ECHOED below); attributes only the kernel
// reports (statistics, flags, u32's root-table hash) are not Sluice's to send.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAttrs } from '../../../src/kernel/rtnl/attrs';
import { TCA_ACT, TCA_BPF, TCA_U32 } from '../../../src/kernel/rtnl/constants';
import { decodeClassOptions, decodeFilterOptions, decodeQdiscOptions, encodeFilterOptions, encodeHtbClass, encodeQdiscOptions, isDecodeError, TcDecodeError } from '../../../src/kernel/rtnl/tc';
import { TC_HTB_GLOB, TC_HTB_OPT } from '../../../src/kernel/rtnl/tc/htb';
import type { Layout } from '../../../src/kernel/rtnl/tc/layout';
import { TC_MIRRED } from '../../../src/kernel/rtnl/tc/mirred';
import { sfqQdisc, TC_SFQ_QOPT } from '../../../src/kernel/rtnl/tc/sfq';
import type { TcFixture, TcFixtures } from './fixtures/record';

const fixtures = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'tc.json'), 'utf8')) as TcFixtures;
const devOf = (i: number): string | undefined => fixtures.devices[i];
const ifindexOf = (dev: string): number => Number(Object.entries(fixtures.devices).find(([, name]) => name === dev)![0]);
const encodeCtx = { ifindexOf, bpfProgram: () => ({ fd: 99, name: 'sl_netcls' }) };

/** Struct fields the kernel fills in whatever was sent: its own version, counts, the action index it assigned. */
const KERNEL_FILLED: ReadonlyMap<string, { readonly layout: Layout<string>; readonly fields: readonly string[] }> = new Map([
  ['qdisc htb/2', { layout: TC_HTB_GLOB, fields: ['version', 'direct_pkts'] }],
  ['class htb/1', { layout: TC_HTB_OPT, fields: ['level'] }],
  ['filter u32/7/*/2/2', { layout: TC_MIRRED, fields: ['index', 'refcnt', 'bindcnt'] }],
]);

/** Attributes sent that the kernel does not report back: a BPF program goes by fd and comes back by id and tag; zero flags are not dumped. */
const NOT_ECHOED = new Set([`filter bpf/${TCA_BPF.FD}`, `filter bpf/${TCA_BPF.FLAGS}`]);

/** Attributes holding attributes, by path: u32's action list, each action, its options. */
const NESTED = new Set([`filter u32/${TCA_U32.ACT}`, `filter u32/${TCA_U32.ACT}/*`, `filter u32/${TCA_U32.ACT}/*/${TCA_ACT.OPTIONS}`]);

const pathKey = (path: string): string => path.replace(new RegExp(`^(filter u32/${TCA_U32.ACT})/\\d+`), '$1/*');

/** Kinds whose TCA_OPTIONS is one struct, not attributes. */
const STRUCT_OPTIONS = new Set(['qdisc pfifo', 'qdisc sfq']);

/** Every attribute of `ours` is in `theirs`, equal modulo KERNEL_FILLED; returns the paths compared. */
function expectSent(ours: Buffer, theirs: Buffer, path: string): string[] {
  if (STRUCT_OPTIONS.has(path)) {
    expect(theirs.toString('hex'), path).toBe(ours.toString('hex'));
    return [path];
  }
  const kernel = new Map(parseAttrs(theirs).map((a) => [a.type, a.payload]));
  const compared: string[] = [];
  for (const a of parseAttrs(ours)) {
    const at = `${path}/${a.type}`;
    const key = pathKey(at);
    if (NOT_ECHOED.has(key)) continue;
    const reported = kernel.get(a.type);
    expect(reported, `${at} is reported`).toBeDefined();
    if (NESTED.has(key)) {
      compared.push(...expectSent(a.payload, reported!, at));
      continue;
    }
    const filled = KERNEL_FILLED.get(key);
    const mask = (b: Buffer): Buffer => {
      const copy = Buffer.from(b);
      for (const f of filled?.fields ?? []) filled!.layout.write(copy, f, 0);
      return copy;
    };
    expect(mask(reported!).toString('hex'), at).toBe(mask(a.payload).toString('hex'));
    compared.push(at);
  }
  return compared;
}

/** The payload of the one attribute in `attr` (TCA_OPTIONS as the encoders return it). */
const payloadOf = (attr: Buffer | undefined): Buffer => (attr ? parseAttrs(attr)[0]!.payload : Buffer.alloc(0));

function roundTrip(f: TcFixture): { decoded: unknown; again: unknown; compared: string[] } {
  const options = f.options === '' ? undefined : Buffer.from(f.options, 'hex');
  const theirs = options ?? Buffer.alloc(0);
  const path = `${f.object} ${f.kind}`;
  switch (f.object) {
    case 'qdisc': {
      const decoded = decodeQdiscOptions(f.kind, options);
      if (isDecodeError(decoded)) throw new Error(decoded.message);
      const ours = payloadOf(encodeQdiscOptions(decoded).options);
      return { decoded, again: decodeQdiscOptions(f.kind, ours.length ? ours : undefined), compared: expectSent(ours, theirs, path) };
    }
    case 'class': {
      const decoded = decodeClassOptions(f.kind, options);
      if (isDecodeError(decoded)) throw new Error(decoded.message);
      const ours = payloadOf(encodeHtbClass(decoded));
      // `inner` is the kernel's report (level > 0), never sent: what Sluice sends reads back as a leaf.
      const { inner: _inner, ...sent } = decoded;
      return { decoded: sent, again: decodeClassOptions(f.kind, ours), compared: expectSent(ours, theirs, path) };
    }
    case 'filter': {
      const decoded = decodeFilterOptions(f.kind, options, { devOf });
      if (isDecodeError(decoded)) throw new Error(decoded.message);
      const ours = payloadOf(encodeFilterOptions(decoded, f.handle, encodeCtx).options);
      // Decoding what Sluice sends: the program's name stands in for the kernel's report.
      return { decoded, again: decodeFilterOptions(f.kind, ours, { devOf }), compared: expectSent(ours, theirs, path) };
    }
  }
}

describe('tc codecs against recorded kernel bytes', () => {
  const recorded = fixtures.objects.filter((f) => !(f.kind === 'u32' && (f.handle === 0x80000000 || f.handle === 0)));

  it('covers every kind Sluice creates on this kernel', () => {
    expect(new Set(recorded.map((f) => `${f.object} ${f.kind}`))).toEqual(new Set(['qdisc htb', 'qdisc pfifo', 'qdisc ingress', 'qdisc clsact', 'class htb', 'filter u32', 'filter bpf']));
    expect(recorded.some((f) => f.options.includes('6d697272656400'))).toBe(true); // a mirred action
  });

  it.each(recorded.map((f) => [`${f.object} ${f.kind} ${f.handle.toString(16)} on ${f.dev}`, f] as const))('%s: decode → encode gives the kernel’s bytes → decode gives the same spec', (_name, f) => {
    const { decoded, again, compared } = roundTrip(f);
    expect(again).toEqual(decoded);
    if (f.options !== '' && f.kind !== 'ingress' && f.kind !== 'clsact') expect(compared.length).toBeGreaterThan(0);
  });

  it('reads the recorded 64-bit class rate and the mirred target by name', () => {
    const big = fixtures.objects.find((f) => f.object === 'class' && f.dev === 'sl-ifb')!;
    expect(decodeClassOptions('htb', Buffer.from(big.options, 'hex'))).toMatchObject({ rate: 40e9, ceil: 40e9, burst: 200000, prio: 3, quantum: 60000 });
    const redirect = fixtures.objects.find((f) => f.options.includes('6d697272656400'))!;
    expect(decodeFilterOptions('u32', Buffer.from(redirect.options, 'hex'), { devOf })).toMatchObject({ actions: [{ kind: 'mirred', action: 'egress-redirect', targetDev: 'sl-ifb' }] });
  });
});

describe('tc decoders name what they cannot read', () => {
  it('an unknown kind is a typed error, for qdiscs, classes and filters', () => {
    for (const d of [decodeQdiscOptions('netem', undefined), decodeClassOptions('hfsc', undefined), decodeFilterOptions('flower', undefined, { devOf })]) {
      expect(d).toBeInstanceOf(TcDecodeError);
      expect((d as TcDecodeError).reason).toBe('unknown-kind');
    }
    expect((decodeQdiscOptions('netem', undefined) as TcDecodeError).message).toMatch(/qdisc of kind "netem".*foreign/);
  });

  it('a BPF program Sluice did not load, an unknown action and short options are errors too', () => {
    const bpf = fixtures.objects.find((f) => f.kind === 'bpf')!;
    const other = Buffer.from(bpf.options.replace(Buffer.from('sl_netcls').toString('hex'), Buffer.from('xx_netcls').toString('hex')), 'hex');
    expect(decodeFilterOptions('bpf', other, { devOf })).toMatchObject({ reason: 'not-sluice' });
    const redirect = fixtures.objects.find((f) => f.options.includes('6d697272656400'))!;
    const police = Buffer.from(redirect.options.replace('6d697272656400', '706f6c69636500'), 'hex');
    expect(decodeFilterOptions('u32', police, { devOf })).toMatchObject({ object: 'action', kind: 'police', reason: 'unknown-kind' });
    expect(decodeQdiscOptions('pfifo', Buffer.alloc(2))).toMatchObject({ reason: 'malformed' });
    expect(decodeClassOptions('htb', undefined)).toMatchObject({ reason: 'malformed' });
  });
});

describe('kinds this kernel lacks (not recorded): layouts from pkt_sched.h', () => {
  it('sfq writes perturb_period at its offset and reads it back', () => {
    const opt = payloadOf(sfqQdisc.encode({ kind: 'sfq', perturbSec: 10 }));
    expect(opt.length).toBe(TC_SFQ_QOPT.size);
    expect(opt.toString('hex')).toBe('000000000a000000000000000000000000000000');
    expect(sfqQdisc.decode(opt)).toEqual({ kind: 'sfq', perturbSec: 10 });
  });

  it('fq_codel is created without options', () => {
    expect(encodeQdiscOptions({ kind: 'fq_codel' })).toEqual({ kind: 'fq_codel' });
  });
});

