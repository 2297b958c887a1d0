// serve's plan per ADD, alone (no kernel): one more pod beside N, compiled against the
// state applied before it, then planned as the applier's change is: the general diff
// (what planChange ran before) and growthPlan (src/plan/growth.ts), side by side,
// alternating, in one process. CPU time per plan, median and p90.
//   npx tsx bench/growthPlan.ts [pods=100] [rounds=200]

import { compilePolicy } from '../src/compile';
import { diff } from '../src/plan/diff';
import { growthPlan } from '../src/plan/growth';
import type { KernelState } from '../src/tc/model';
import { exitUnlessRunnable } from './args';
import { syntheticPolicy } from './fixtures';
import { median, p90 } from './stats';

exitUnlessRunnable({
  name: 'growthPlan',
  usage: `bench/growthPlan: the plan of one more pod's ADD beside N, by the general diff and by growthPlan
  npx tsx bench/growthPlan.ts [pods] [rounds]   (no kernel, no lock)
  pods    pods before the one more (100)
  rounds  plans of each (200)
  --help  this text`,
  positionals: { max: 2, pattern: /^\d+$/ },
});

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const pods = Number(positional[0] ?? 100);
const rounds = Number(positional[1] ?? 200);

const full = syntheticPolicy(pods + 1);
const applied = compilePolicy({ ...full, containers: full.containers.slice(0, pods) }).state;
const desired = compilePolicy(full, { observed: applied }).state;

function cpuMs(plan: (d: KernelState, a: KernelState) => unknown): number {
  const start = process.cpuUsage();
  plan(desired, applied);
  const spent = process.cpuUsage(start);
  return (spent.user + spent.system) / 1000;
}

const general: number[] = [];
const grown: number[] = [];
for (let i = 0; i < rounds; i++) {
  general.push(cpuMs(diff));
  grown.push(cpuMs(growthPlan));
}
const operations = growthPlan(desired, applied)?.length;
const f = (xs: number[]): string => `median ${median(xs).toFixed(3)} ms, p90 ${p90(xs).toFixed(3)} ms`;
console.log(`one more pod beside ${pods} (${operations ?? 'no'} operations; ${rounds} plans each, alternating):`);
console.log(`  general diff  ${f(general)}`);
console.log(`  growthPlan    ${f(grown)}`);
