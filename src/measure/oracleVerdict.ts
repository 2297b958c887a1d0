// The verdict against the real oracle (kept apart so verdict.ts stays testable with a
// stand-in allocator).
import { allocate } from '../allocate/oracle';
import { judgeAllocation, type Verdict, type VerdictInput } from './verdict';

export function judgeAgainstOracle(input: VerdictInput): Verdict {
  return judgeAllocation(input, allocate);
}
