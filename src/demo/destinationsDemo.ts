// The demo's last part: destination classes, case (a) of README's "Destination classes"
// (cluster traffic limited only by the link, internet traffic capped per pod), from
// policies/destinations/demo/case-a.yaml in a sandbox of its own with two peers routed
// through the host: a "cluster" peer in its own set and the demo's peer in the default
// set "internet". Traffic to both at once, a live table of each container's rate per set,
// each (container, set) flow judged against the oracle fed from the file as written.
import type { DemoOptions, DemoDeps, PhaseResult } from './run';
import { phaseHeading } from './run';
import { clusterPeer, flowKey, SetSandbox, teardownSets } from './destinations';
import type { Phase } from './scenario';
import { liveTablePrinter, renderLiveTable, type LiveRow } from './table';
import { policyJudge } from './written';
import { packageFile } from '../packageFiles';
import type { Policy } from '../policy/model';
import { bitsPerSec } from '../units/units';

export const DESTINATIONS_POLICY = packageFile('policies', 'destinations', 'demo', 'case-a.yaml');
/** The cluster peer of the part's sandbox (its host is sl-ahost). */
export const DESTINATIONS_PEER = clusterPeer('a');

/** The part's one phase per direction: frontend with both peers, crawler with the internet. */
export const DESTINATIONS_PHASE: Phase = {
  name: 'destinations (a)',
  shows: 'cluster traffic limited only by the link, internet traffic capped per pod (20 mbit/s each)',
  active: [flowKey('frontend', 'cluster'), flowKey('frontend', 'internet'), flowKey('crawler', 'internet')],
};

/** Builds the part's sandbox (leftovers of an earlier run removed first), runs its phase in each direction, stops the traffic; teardownSets removes the sandbox. */
export async function runDestinationsPart(deps: DemoDeps, policy: Policy, options: Omit<DemoOptions, 'phases' | 'judge'>): Promise<PhaseResult[]> {
  const { out } = options;
  out(`\n══ Destination classes, case (a): ${policy.host.name}, ${policy.containers.map((c) => c.name).join(' and ')}; the "cluster" peer in its own set, the demo's peer in the default set "internet"`);
  await teardownSets(deps, policy, DESTINATIONS_PEER);
  const sandbox = await SetSandbox.open(deps, policy, DESTINATIONS_PEER, { directions: options.directions, out });
  const judge = policyJudge(policy);
  const results: PhaseResult[] = [];
  try {
    for (const direction of options.directions) {
      const phase = DESTINATIONS_PHASE;
      const { capacity, ideal } = judge.expect(direction, phase.active);
      out(phaseHeading(direction, phase));
      const printer = liveTablePrinter(out, options.live);
      const { verdict } = await sandbox.run({ direction, busy: phase.active }, judge, {
        phaseSeconds: options.phaseSeconds,
        warmupSeconds: options.warmupSeconds,
        ...(options.tolerance ? { tolerance: options.tolerance } : {}),
        live: (snap, second) => {
          // A row per container and set: its class in that set's HTB.
          const rows: LiveRow[] = (snap.peers ?? [])
            .filter((r) => r.direction === direction)
            .map((r) => {
              const key = flowKey(r.container, r.peer);
              return { name: key, guarantee: r.guarantee, ceiling: r.ceiling, priority: r.priority, rate: r.rate, ideal: ideal.get(key) ?? bitsPerSec(0), drops: r.drops, active: phase.active.includes(key) };
            });
          printer.show(renderLiveTable(`${direction} t=${second}s (container@peer set)`, rows, capacity));
        },
      });
      printer.done();
      results.push({ direction, phase, verdict });
    }
  } finally {
    await sandbox.stop();
  }
  return results;
}
