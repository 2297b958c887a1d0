import { describe, expect, it } from 'vitest';
import { effectiveSet, lacking } from '../../src/kernel/capabilities';
import { PermissionError } from '../../src/errors';

describe('capabilities', () => {
  it("reads the effective set from /proc/<pid>/status and names the ones it lacks", () => {
    // CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21): what systemd's CapabilityBoundingSet leaves root.
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t0000000000201000\nCapEff:\t0000000000201000\nCapBnd:\t0000000000201000\n';
    const eff = effectiveSet(status)!;
    expect(lacking(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], eff)).toEqual([]);
    expect(lacking(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE'], eff)).toEqual(['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE']);
    expect(lacking(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], effectiveSet('CapEff:\t0000000000200000\n')!)).toEqual(['CAP_NET_ADMIN']);
    expect(lacking(['CAP_SYS_ADMIN'], effectiveSet('CapEff:\t000001ffffffffff\n')!)).toEqual([]);
    expect(effectiveSet('Name:\tx\n')).toBeUndefined();
  });

  it('a permission error names the capabilities missing and where to add them', () => {
    const e = new PermissionError('sluice serve', ['CAP_NET_ADMIN']);
    expect(e.message).toBe('sluice serve needs CAP_NET_ADMIN, which this process lacks');
    expect(e.hint).toContain('CapabilityBoundingSet=');
    expect(new PermissionError('sluice apply').message).toBe('sluice apply needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)');
  });
});
