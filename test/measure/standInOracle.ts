// A tiny stand-in for src/allocate/oracle.ts (DESIGN.md's ideal allocation) so the
// verdict can be tested before, and independently of, the real oracle.
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import type { OracleInput } from '../../src/measure/verdict';

export function standInAllocate(capacity: BitsPerSec, demands: readonly OracleInput[]): Map<string, BitsPerSec> {
  const given = new Map<string, number>(demands.map((d) => [d.id, Math.min(d.demand, d.guarantee)]));
  let left = capacity - [...given.values()].reduce((a, b) => a + b, 0);
  const priorities = [...new Set(demands.map((d) => d.priority))].sort((a, b) => a - b);
  for (const priority of priorities) {
    let hungry = demands.filter((d) => d.priority === priority);
    while (left > 1e-6 && hungry.length > 0) {
      const limit = (d: OracleInput): number => Math.min(d.demand, d.ceiling) - (given.get(d.id) ?? 0);
      hungry = hungry.filter((d) => limit(d) > 1e-6);
      const weight = hungry.reduce((sum, d) => sum + d.guarantee, 0);
      if (hungry.length === 0 || weight <= 0) break;
      const round = left;
      for (const d of hungry) {
        const share = Math.min(limit(d), (round * d.guarantee) / weight);
        given.set(d.id, (given.get(d.id) ?? 0) + share);
        left -= share;
      }
    }
  }
  return new Map([...given].map(([id, rate]) => [id, bitsPerSec(rate)]));
}
