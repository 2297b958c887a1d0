import { describe, expect, it } from 'vitest';
import { SizedList } from '../../src/compile/sizedList';

describe('SizedList', () => {
  it('gives the items in order once as many as counted were added', () => {
    const list = new SizedList<number>(3, 'fix the count');
    [1, 2, 3].forEach((n) => list.push(n));
    expect(list.filled()).toEqual([1, 2, 3]);
  });

  it('refuses a list that was counted wrong, naming what to fix', () => {
    const short = new SizedList<number>(3, 'countThings must count what addThings adds');
    short.push(1);
    expect(() => short.filled()).toThrow(/1 objects were added to a list counted for 3; countThings must count what addThings adds/);
    const long = new SizedList<number>(1, 'fix the count');
    long.push(1);
    long.push(2);
    expect(() => long.filled()).toThrow(/2 objects .* counted for 1/);
  });

  it('grows as an array does when no size was counted', () => {
    const list = new SizedList<string>(undefined, 'unused');
    list.push('a');
    list.push('b');
    expect(list.filled()).toEqual(['a', 'b']);
  });
});
