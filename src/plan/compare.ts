// Comparing a desired object with the observed one of the same identity: same, change
// (which fields), or replace. Pure; shared by every diff path.

import { assertNever, type ClassSpec, type KernelObject, type LinkObject } from '../tc/model';
import { MAX_PACKET_BYTES } from '../compile/htb';

/** Devices Sluice shapes but did not create, and sysctls, are never deleted. */
export const deletable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external') && o.type !== 'sysctl';
export const creatable = (o: KernelObject): boolean => !(o.type === 'link' && o.spec.kind === 'external');

export type Verdict = { kind: 'same' } | { kind: 'change'; fields: readonly string[] } | { kind: 'replace' };
/** Shared verdicts: a no-op diff compares every object and should allocate nothing for them. */
export const SAME: Verdict = { kind: 'same' };
const REPLACE: Verdict = { kind: 'replace' };
const changedOrSame = (fields: readonly string[]): Verdict => (fields.length ? { kind: 'change', fields } : SAME);

export function compare(d: KernelObject, o: KernelObject): Verdict {
  switch (d.type) {
    case 'link': {
      const ol = o as LinkObject;
      if (d.spec.kind !== ol.spec.kind && d.spec.kind !== 'external') return REPLACE;
      return changedOrSame(changedLinkFields(d, ol));
    }
    case 'route':
      return sameData(d, o) ? SAME : REPLACE;
    case 'sysctl':
    case 'cgroup-classid':
      return sameData(d, o) ? SAME : { kind: 'change', fields: ['value'] };
    case 'qdisc': {
      const oq = o as typeof d;
      if (d.spec.kind !== oq.spec.kind || d.handle !== oq.handle) return REPLACE;
      return sameFields(d.spec, oq.spec) ? SAME : changedOrSame(changedFields(d.spec, oq.spec));
    }
    case 'class': {
      const oc = o as typeof d;
      if (d.parent !== oc.parent) return REPLACE;
      if (sameClassSpec(d.spec, oc.spec)) return SAME;
      const fields = changedClassFields(d.spec, oc.spec);
      return changedOrSame(fields);
    }
    case 'filter':
      return sameData(d, o) ? SAME : REPLACE;
    case 'namespace':
    case 'address':
      return SAME;
    default:
      return assertNever(d);
  }
}

/** Structural equality of plain data (what the model is made of); no allocation. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    // Each field read once, and compared in place when equal (most are, and are
    // numbers or strings): a no-op diff compares every route and filter this way.
    const x = ra[k];
    if (x === undefined) continue;
    count++;
    const y = rb[k];
    if (x !== y && !sameData(x, y)) return false;
  }
  for (const k in rb) if (rb[k] !== undefined) count--;
  return count === 0;
}


function changedFields<T extends object>(a: T, b: T): string[] {
  return Object.keys(a).filter((k) => !sameData(a[k as keyof T], b[k as keyof T]));
}

/** changedFields(a, b) is empty, without building the key list and the result (a converged tick asks for every qdisc). */
function sameFields<T extends object>(a: T, b: T): boolean {
  if (a === b) return true;
  for (const k in a) if (Object.prototype.hasOwnProperty.call(a, k) && !sameData(a[k], b[k])) return false;
  return true;
}

/**
 * A link's fields that differ. The list is one of LINK_FIELD_LISTS, shared by every change
 * with the same fields: a fresh machine's plan brings each container's eth0 up, and a
 * list of its own per change (an empty literal grown by push: 184 bytes) was 1.8 MB alive
 * at 10,000 containers.
 */
export function changedLinkFields(d: LinkObject, o: LinkObject): readonly string[] {
  const up = d.up !== o.up;
  const mtu = d.mtu !== undefined && d.mtu !== o.mtu;
  const gso = d.gsoMaxSize !== undefined && d.gsoMaxSize !== o.gsoMaxSize;
  const master = d.master !== o.master && d.spec.kind !== 'external';
  const isolated = d.isolated !== undefined && d.isolated !== (o.isolated ?? false);
  return LINK_FIELD_LISTS[(up ? 1 : 0) | (mtu ? 2 : 0) | (gso ? 4 : 0) | (master ? 8 : 0) | (isolated ? 16 : 0)]!;
}

/** The link fields a change can name, in the order a change lists them; bit i of an index into LINK_FIELD_LISTS is LINK_FIELDS[i]. */
const LINK_FIELDS = ['up', 'mtu', 'gsoMaxSize', 'master', 'isolated'] as const;

/** Every list of link fields, by the bits of the fields it holds (0: none, what a link that is the same gets). */
const LINK_FIELD_LISTS: readonly (readonly string[])[] = Array.from({ length: 1 << LINK_FIELDS.length }, (_, bits) => Object.freeze(LINK_FIELDS.filter((_, i) => (bits & (1 << i)) !== 0)));

const near = (x: number, y: number, tolerance: number): boolean => Math.abs(x - y) <= tolerance;

/**
 * The kernel keeps rates in bytes/s and bursts in timer ticks, so values read back are
 * rounded; differences within that rounding are not changes (or every tick would
 * rewrite every class).
 */
const sameRate = (desired: number, observed: number): boolean => near(desired, observed, 8);
const sameBurst = (desired: number, observed: number): boolean => near(desired, observed, Math.max(64, desired * 0.02));
/** The kernel ignores a new quantum for a class with children (it read back `inner`). */
const sameQuantum = (a: ClassSpec, b: ClassSpec): boolean => a.quantum === b.quantum || a.inner === true || b.inner === true;

/**
 * A leaf at a rate where its largest packet takes longer than this to send may be that
 * far in token debt: HTB keeps a class's tokens as time at its rate, floored at -60 s,
 * and keeps them through a change of rate, so raised it has no guarantee until the debt
 * has run off at 1 s per second (a class at 8 kbit/s, a zero guarantee, sat 16 s in
 * debt and sent nothing beside a sibling of higher priority: docs/decisions.md, "The
 * zero's cause"). Made again, a class starts with a full bucket.
 */
export const MAX_TOKEN_DEBT_MS = 1000;
/** Rates below this (bit/s) can owe more than MAX_TOKEN_DEBT_MS for one largest packet. */
const DEBT_PRONE_RATE = (MAX_PACKET_BYTES * 8 * 1000) / MAX_TOKEN_DEBT_MS;

/** A leaf raised from a debt-prone rate: to be replaced rather than changed (see MAX_TOKEN_DEBT_MS; diff.ts decides). */
export const raisedOutOfDebt = (desired: ClassSpec, observed: ClassSpec): boolean =>
  desired.inner !== true && observed.inner !== true && observed.rate < DEBT_PRONE_RATE && desired.rate > observed.rate && !sameRate(desired.rate, observed.rate);

function changedClassFields(a: ClassSpec, b: ClassSpec): string[] {
  const fields: string[] = [];
  if (!sameRate(a.rate, b.rate)) fields.push('rate');
  if (!sameRate(a.ceil, b.ceil)) fields.push('ceil');
  if (!sameBurst(a.burst, b.burst)) fields.push('burst');
  if (!sameBurst(a.cburst, b.cburst)) fields.push('cburst');
  if (a.prio !== b.prio) fields.push('prio');
  if (!sameQuantum(a, b)) fields.push('quantum');
  return fields;
}

/**
 * changedClassFields(a, b) is empty, without building it (a converged tick asks for
 * every class): one call site per field, which V8 inlines.
 */
function sameClassSpec(a: ClassSpec, b: ClassSpec): boolean {
  return sameRate(a.rate, b.rate) && sameRate(a.ceil, b.ceil) && sameBurst(a.burst, b.burst) && sameBurst(a.cburst, b.cburst) && a.prio === b.prio && sameQuantum(a, b);
}
