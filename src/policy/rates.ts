// Rates, sizes and durations as operators write them, parsed at the edge. tc's own
// spellings for rates (`bit`, `kbit`, `mbit`, …), but never tc's `bps`, which means
// *bytes* per second and is misread as bits so often that it is refused with a hint.
// Writing them back for people is src/units/format.ts.

import { bitsPerSec, bytes, seconds, type BitsPerSec, type Bytes, type Seconds } from '../units/units';

export class UnitError extends RangeError {
  constructor(readonly text: string, readonly detail: string) {
    super(`"${text}": ${detail}`);
  }
}

const RATE_UNITS: Readonly<Record<string, number>> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
  'byte/s': 8,
  'kbyte/s': 8e3,
  'mbyte/s': 8e6,
  'gbyte/s': 8e9,
};

const AMBIGUOUS_RATE_UNITS = new Set(['bps', 'kbps', 'mbps', 'gbps', 'tbps', 'b', 'k', 'm', 'g', 'kb', 'mb', 'gb', 'bit/s']);

export const ACCEPTED_RATE_UNITS = Object.keys(RATE_UNITS).join(', ');

const NUMBER_AND_UNIT = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z/]*)\s*$/;

/** "100mbit" → 100e6 bit/s. Throws UnitError naming the accepted units. */
export function parseRate(text: string): BitsPerSec {
  const m = NUMBER_AND_UNIT.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = RATE_UNITS[unit];
  if (!m || factor === undefined) {
    const why = AMBIGUOUS_RATE_UNITS.has(unit)
      ? `"${m?.[2]}" is ambiguous (tc reads "bps" as bytes per second)`
      : unit === ''
        ? 'a rate needs a unit'
        : `unknown unit "${m?.[2]}"`;
    throw new UnitError(text, `${why}; write e.g. 100mbit or 12.5mbyte/s (units: ${ACCEPTED_RATE_UNITS})`);
  }
  return bitsPerSec(Math.round(Number(m[1]) * factor));
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  byte: 1,
  bytes: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

export const ACCEPTED_SIZE_UNITS = Object.keys(SIZE_UNITS).join(', ');

/** "64kib" → 65536 bytes. */
export function parseSize(text: string): Bytes {
  const m = NUMBER_AND_UNIT.exec(text);
  const factor = SIZE_UNITS[m?.[2]?.toLowerCase() ?? ''];
  if (!m || factor === undefined) throw new UnitError(text, `not a size; write one such as 64kib or 1500b (units: ${ACCEPTED_SIZE_UNITS})`);
  return bytes(Math.round(Number(m[1]) * factor));
}

const DURATION_PART = /([0-9]+)(h|m|s)/g;
const DURATION_WHOLE = /^(?:[0-9]+[hms])+$/;
const DURATION_FACTOR: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1 };

/** "1h30m" → 5400 s. */
export function parseDuration(text: string): Seconds {
  if (!DURATION_WHOLE.test(text)) throw new UnitError(text, 'not a duration; write one such as 90s, 30m, 2h or 1h30m');
  let total = 0;
  for (const m of text.matchAll(DURATION_PART)) total += Number(m[1]) * DURATION_FACTOR[m[2]!]!;
  return seconds(total);
}
