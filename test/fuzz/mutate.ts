// Mutations for the fuzz targets: of a parsed structure (a policy document, a CNI
// configuration, a label set), of text (YAML, JSON, an environment value) and of bytes (a
// netlink message). Deterministic in the Rng, so a case is replayed from (seed, index).

import { seededRandom } from '../support/randomPolicy';

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** The Rng of case `index` of a run seeded `seed`. */
  static forCase(seed: number, index: number): Rng {
    return new Rng((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0);
  }

  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('pick from nothing');
    return xs[this.int(xs.length)]!;
  }
}

/** Strings that have broken parsers before: units, edge numbers, paths, names, encodings. */
export const INTERESTING_STRINGS: readonly string[] = [
  '', ' ', '0', '-1', '007', '1e400', '-1e400', 'NaN', 'Infinity', '0x10', '1_000', '1.', '.5',
  '100mbit', '100mbps', '100Mbit', '1.5gbit', '0bit', '-5mbit', '5 mbit', '５mbit', 'mbit', '1mbit/s', '12mbyte/s',
  '99999999999999999999tbit', '1e30bit', '0.0000001bit', '18446744073709551616bit', '1kibit', '64kib', '0b', '4gib', '9007199254740993b',
  '1h', '25h', '0s', '90s', '1h30m', '1d', '-2h', '1h1h', '9999999999999999h',
  '* * * * *', '61 * * * *', '@daily', '0 1 * * *', '*/0 * * * *', '0 0 31 2 *', '* * * * * *',
  'sl-web', 'web', 'WEB', 'a'.repeat(64), `sl-${'a'.repeat(300)}`, 'host', 'sl-host', '/proc/1/ns/net', '/proc/self/ns/net', '../../etc', '/run/netns/../../etc/passwd', 'sl-x/../../y',
  '198.18.0.10', '198.18.0.300', '198.18.0.0', '198.18.0.255', '0.0.0.0', '255.255.255.255', '198.18.0.0/24', '198.18.0.0/33', '198.18.0.0/-1', '10.0.0.0/8',
  '2001:2::1', '2001:2::/64', '::', '::1', 'fe80::1%eth0', '2001:2::c612:a', '1:2:3:4:5:6:7:8:9', ':::',
  'shared', 'per-device', 'reject', 'scale-by-priority', 'sluice.dev/v1', 'sluice.dev/v2', 'Host', 'Container', 'Schedule', 'host',
  '\u0000', '\u202e', '\ud800', '😀', 'é', '\r\n', '\t', 'a\nb', '"', "'", '\\', '%s%n', '${HOME}', '<script>', 'null', 'true', '~', '-', '---', '...',
];

export const INTERESTING_NUMBERS: readonly number[] = [0, -1, 1, 2, 7, 8, 255, 256, 1023, 1024, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -0, 0.5, 1e-9, 1e21, 1e308, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];

type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A random scalar or small structure, some of them from `keys` (field names that matter). */
export function randomValue(rng: Rng, keys: readonly string[] = []): unknown {
  switch (rng.int(9)) {
    case 0:
    case 1:
      return rng.pick(INTERESTING_STRINGS);
    case 2:
      return rng.pick(INTERESTING_NUMBERS);
    case 3:
      return rng.pick([true, false, null]);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return keys.length > 0 ? { [rng.pick(keys)]: randomValue(rng) } : [rng.pick(INTERESTING_STRINGS)];
    case 7:
      return `${rng.int(100000)}${rng.pick(['', 'bit', 'kbit', 'mbit', 'gbit', 'tbit', 'mbps', 'kib', 'mb', 's', 'm', 'h', '%'])}`;
    default:
      return mutateText(rng.pick(INTERESTING_STRINGS.filter((s) => s.length < 40)), rng);
  }
}

/** Every path into `v` (object keys and array indexes), the root first; a YAML alias's cycle is walked once. */
function paths(v: unknown, at: readonly (string | number)[] = [], out: (string | number)[][] = [], seen = new Set<unknown>()): (string | number)[][] {
  out.push([...at]);
  if (typeof v !== 'object' || v === null || seen.has(v) || at.length > 64) return out;
  seen.add(v);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out, seen));
  else if (isRecord(v)) for (const k of Object.keys(v)) paths(v[k], [...at, k], out, seen);
  return out;
}

const getAt = (v: unknown, path: readonly (string | number)[]): unknown => path.reduce<unknown>((x, k) => (Array.isArray(x) || isRecord(x) ? (x as Record<string | number, unknown>)[k] : undefined), v);

function setAt(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = [...v];
    copy[head as number] = setAt(copy[head as number], rest, value);
    return copy;
  }
  if (isRecord(v)) return { ...v, [head as string]: setAt(v[head as string], rest, value) };
  return v;
}

function removeAt(v: unknown, path: readonly (string | number)[]): unknown {
  if (path.length === 0) return undefined;
  const parent = getAt(v, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) return setAt(v, path.slice(0, -1), parent.filter((_, i) => i !== last));
  if (isRecord(parent)) {
    const { [last as string]: _gone, ...rest } = parent;
    return setAt(v, path.slice(0, -1), rest);
  }
  return v;
}

/**
 * One to three edits of a parsed structure: a value replaced, a field removed, added
 * (often a name the schema knows), renamed, duplicated, moved, or nested deeper.
 * `donors` are other structures to borrow subtrees from.
 */
export function mutateStructure(v: unknown, rng: Rng, keys: readonly string[], donors: readonly unknown[] = []): unknown {
  let out = v;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const all = paths(out);
    const path = rng.pick(all);
    const here = getAt(out, path);
    switch (rng.int(10)) {
      case 0:
      case 1:
      case 2:
        out = setAt(out, path, randomValue(rng, keys));
        break;
      case 3:
        out = removeAt(out, path);
        break;
      case 4:
        if (isRecord(here)) out = setAt(out, [...path, rng.chance(0.7) && keys.length > 0 ? rng.pick(keys) : rng.pick(INTERESTING_STRINGS)], randomValue(rng, keys));
        else if (Array.isArray(here)) out = setAt(out, path, [...here, here.length > 0 && rng.chance(0.5) ? rng.pick(here) : randomValue(rng, keys)]);
        break;
      case 5: {
        // A field renamed: a typo, another field's name, or a different case.
        const last = path[path.length - 1];
        if (typeof last === 'string' && path.length > 0) {
          const renamed = rng.pick([keys.length > 0 ? rng.pick(keys) : last, last.toUpperCase(), `${last}s`, last.slice(1), `${last} `]);
          out = setAt(removeAt(out, path), [...path.slice(0, -1), renamed], here);
        }
        break;
      }
      case 6: {
        const donor = donors.length > 0 ? rng.pick(donors) : out;
        out = setAt(out, path, getAt(donor, rng.pick(paths(donor))));
        break;
      }
      case 7:
        out = setAt(out, path, rng.chance(0.5) ? [here] : { [rng.pick(keys.length > 0 ? keys : ['x'])]: here });
        break;
      case 8:
        if (typeof here === 'number') out = setAt(out, path, rng.pick([here + 1, here - 1, -here, here * 1000, here / 3, String(here)]));
        else if (typeof here === 'string') out = setAt(out, path, rng.chance(0.5) ? mutateText(here, rng) : Number.isNaN(Number(here)) ? `${here}${here}` : Number(here));
        else out = setAt(out, path, randomValue(rng, keys));
        break;
      default:
        out = setAt(out, path, rng.pick(INTERESTING_STRINGS));
    }
  }
  return out as Plain;
}

const TEXT_SPECIALS: readonly string[] = [': ', '- ', '? ', '&a ', '*a', '!!binary ', '!!str ', '!!int ', '<<: ', '---\n', '...\n', '\t', '#', '{', '}', '[', ']', ',', '"', "'", '|', '>', '%YAML 1.1\n', '\ufeff', '\u0000', '\\u0000', '\n', '  ', '\\', 'null', ': &b [*b]'];

/** One to three edits of text: characters inserted, removed or replaced, a line duplicated, the text cut. */
export function mutateText(text: string, rng: Rng): string {
  let s = text;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(8)) {
      case 0:
        s = s.slice(0, at) + rng.pick(TEXT_SPECIALS) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(rng.int(0x80)) + s.slice(at + 1);
        break;
      case 3: {
        const lines = s.split('\n');
        const i = rng.int(lines.length);
        lines.splice(i, 0, lines[rng.int(lines.length)]!);
        s = lines.join('\n');
        break;
      }
      case 4:
        s = s.slice(0, at);
        break;
      case 5: {
        const lines = s.split('\n');
        const i = rng.int(lines.length);
        lines[i] = `${' '.repeat(rng.int(5))}${lines[i]!.trimStart()}`;
        s = lines.join('\n');
        break;
      }
      case 6:
        s = s.slice(0, at) + rng.pick(INTERESTING_STRINGS) + s.slice(at);
        break;
      default: {
        const from = rng.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + rng.int(40)) + s.slice(at);
      }
    }
  }
  return s;
}

const INTERESTING_U32: readonly number[] = [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One to four edits of bytes: bits flipped, fields set to edge values, cut, extended, chunks duplicated or removed. */
export function mutateBytes(input: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(input);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = b.length > 0 ? rng.int(b.length) : 0;
    switch (rng.int(9)) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = rng.pick([0, 0xff, 0x7f, 0x80, 1]);
        break;
      case 2:
        if (at + 2 <= b.length) b.writeUInt16LE(rng.pick(INTERESTING_U32) & 0xffff, at & ~1);
        break;
      case 3:
        if ((at & ~3) + 4 <= b.length) b.writeUInt32LE(rng.pick(INTERESTING_U32), at & ~3);
        break;
      case 4:
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 5:
        b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)))]);
        break;
      case 6: {
        const len = rng.int(Math.min(64, b.length - at) + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      case 7:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(16))]);
        break;
      default:
        // An attribute's length (at a 4-byte boundary, as attributes are aligned) set to an edge.
        if ((at & ~3) + 2 <= b.length) b.writeUInt16LE(rng.pick([0, 1, 3, 4, 5, 8, 0xffff, b.length - (at & ~3), b.length - (at & ~3) + 4]) & 0xffff, at & ~3);
    }
  }
  return b;
}
