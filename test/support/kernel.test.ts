import { describe, expect, it } from 'vitest';
import { missingFor } from './kernel';

describe('what a kernel test needs', () => {
  it('names root and each missing program (ip and tc always)', () => {
    expect(missingFor(['iperf3'], false, (t) => t !== 'iperf3')).toEqual(['root (CAP_NET_ADMIN, CAP_SYS_ADMIN)', 'iperf3 on PATH']);
    expect(missingFor(['tmux'], true, () => false)).toEqual(['ip on PATH', 'tc on PATH', 'tmux on PATH']);
    expect(missingFor([], true, () => true)).toEqual([]);
  });
});
