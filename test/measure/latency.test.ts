import { describe, expect, it } from 'vitest';
import { loadSplit } from '../../src/demo/latency';
import { formatLatency, latencyReport, percentile } from '../../src/measure/latency';
import { bitsPerSec } from '../../src/units/units';

describe('latency percentiles', () => {
  it('takes the nearest rank, whatever the order', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([3], 99)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });

  it('reports what the load added over idle', () => {
    const r = latencyReport('web', { download: ['api'], upload: ['batch'] }, [0.1, 0.2, 0.3], [0.4, 0.5, 1.3], { download: bitsPerSec(95e6), upload: bitsPerSec(94e6) });
    expect(r.idle).toEqual({ samples: 3, p50Ms: 0.2, p99Ms: 0.3 });
    expect(r.addedP50Ms).toBeCloseTo(0.3);
    expect(r.addedP99Ms).toBeCloseTo(1.0);
    expect(formatLatency(r)).toContain('while api saturate download (95.0 mbit/s goodput) and batch upload (94.0 mbit/s)');
  });

  it('loads each direction from different containers (a container\'s ACKs would wait behind its own bulk data), a lone one both', () => {
    expect(loadSplit(['api', 'batch', 'backup'])).toEqual({ download: ['api', 'batch'], upload: ['backup'] });
    expect(loadSplit(['api'])).toEqual({ download: ['api'], upload: ['api'] });
  });
});
