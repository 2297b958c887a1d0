import { describe, expect, it } from 'vitest';
import { parseDuration, parseRate, parseSize } from '../../src/policy/rates';
import { formatRate } from '../../src/units/format';

describe('parseRate', () => {
  it.each([
    ['100mbit', 100e6],
    ['1.5gbit', 1.5e9],
    ['500kbit', 500e3],
    ['8bit', 8],
    ['1mibit', 1048576],
    ['12.5mbyte/s', 100e6],
  ])('%s = %d bit/s', (text, bits) => expect(parseRate(text)).toBe(bits));

  it.each(['100mbps', '100bps', '10kbps', '100', '100 parsecs', '-5mbit', 'fast'])('refuses %s and names the accepted units', (text) => {
    expect(() => parseRate(text)).toThrow(/mbit/);
  });

  it('explains why bps is refused', () => {
    expect(() => parseRate('100mbps')).toThrow(/ambiguous/);
  });

  it('formats back to tc spelling', () => {
    expect(formatRate(parseRate('100mbit'))).toBe('100mbit');
    expect(formatRate(parseRate('1500kbit'))).toBe('1.5mbit');
  });
});

describe('sizes and durations', () => {
  it('parses sizes', () => {
    expect(parseSize('64kib')).toBe(65536);
    expect(parseSize('1500b')).toBe(1500);
    expect(() => parseSize('64k')).toThrow(/kib/);
  });

  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('90s')).toBe(90);
    expect(() => parseDuration('2 hours')).toThrow(/duration/);
  });
});
