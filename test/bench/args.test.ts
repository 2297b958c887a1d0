// bench/args: the check every bench script runs before it builds anything, so that
// `--help` or a typo never starts a run under the kernel lock with the defaults.
import { describe, expect, it } from 'vitest';
import { checkArgs, numberOption, optionValue, type BenchArgs } from '../../bench/args';

const SPEC: BenchArgs = {
  name: 'demo',
  usage: 'bench/demo: what it measures\n  --draws N  draws (30)',
  switches: ['--quick'],
  valued: ['--draws'],
  positionals: { max: 2, pattern: /^\d+$/ },
};

describe('checkArgs', () => {
  it('runs with no arguments, known switches, valued options and positionals', () => {
    expect(checkArgs(SPEC, [])).toEqual({ kind: 'run' });
    expect(checkArgs(SPEC, ['--quick', '--draws', '5', '100', '50'])).toEqual({ kind: 'run' });
  });

  it('answers --help and -h with the usage, status 0, whatever else is there', () => {
    expect(checkArgs(SPEC, ['--help'])).toEqual({ kind: 'help', status: 0, text: SPEC.usage });
    expect(checkArgs(SPEC, ['--bogus', '-h'])).toEqual({ kind: 'help', status: 0, text: SPEC.usage });
  });

  it('refuses an unknown switch with the script name, the option and the usage, status 2', () => {
    expect(checkArgs(SPEC, ['--quick', '--quik'])).toEqual({ kind: 'refused', status: 2, text: `bench/demo: unknown option --quik\n${SPEC.usage}` });
  });

  it("takes a valued option's value as its value, even when it looks like an option", () => {
    expect(checkArgs(SPEC, ['--draws', '--quick'])).toEqual({ kind: 'run' });
    expect(checkArgs(SPEC, ['--draws', '7', '--seed', '1']).kind).toBe('refused');
  });

  it('refuses a valued option with no value', () => {
    expect(checkArgs(SPEC, ['--draws'])).toMatchObject({ kind: 'refused', status: 2, text: expect.stringMatching(/^bench\/demo: --draws takes a value\n/) as unknown });
  });

  it('refuses positionals beyond the count, not matching the pattern, or where none are read', () => {
    expect(checkArgs(SPEC, ['1', '2', '3'])).toMatchObject({ kind: 'refused', text: expect.stringMatching(/unknown option 3\n/) as unknown });
    expect(checkArgs(SPEC, ['ten'])).toMatchObject({ kind: 'refused', text: expect.stringMatching(/unknown option ten\n/) as unknown });
    expect(checkArgs({ name: 'bare', usage: 'u' }, ['100']).kind).toBe('refused');
  });

  it('refuses a numeric option whose value is not a number ≥ 0, instead of running with NaN', () => {
    const spec: BenchArgs = { ...SPEC, numbers: ['--rounds'] };
    expect(checkArgs(spec, ['--rounds', '3'])).toEqual({ kind: 'run' });
    expect(checkArgs(spec, ['--rounds', '0.5'])).toEqual({ kind: 'run' });
    expect(checkArgs(spec, ['--rounds', 'three'])).toMatchObject({ kind: 'refused', status: 2, text: expect.stringMatching(/^bench\/demo: --rounds takes a number ≥ 0 \(got three\)\n/) as unknown });
    expect(checkArgs(spec, ['--rounds', '-1']).kind).toBe('refused');
  });
});

describe('optionValue and numberOption', () => {
  it('read the value after the option, or the fallback when the option is absent', () => {
    expect(optionValue('--links', '5,10', ['--links', '100'])).toBe('100');
    expect(optionValue('--links', '5,10', ['--quick'])).toBe('5,10');
    expect(numberOption('--rounds', 3, ['--rounds', '7'])).toBe(7);
    expect(numberOption('--rounds', 3, [])).toBe(3);
  });
});
