import type { Command } from 'commander';
import { openRuntime } from '../../app/runtime';
import { DEFAULT_CONTROL_SOCKET, requestControl } from '../../daemon/control';
import { renderStatus } from '../format/status';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../../traffic/snapshot';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { loadOrReport } from './shared';
import { loadPolicyFromPaths } from '../../policy/load';
import { formatWindows, windowsView } from '../format/windows';

interface StatusOptions {
  readonly output: OutputFormat;
  readonly controlSocket: string;
}

/** From the daemon when it runs; otherwise read the kernel twice, a second apart, for rates. */
export async function readSnapshot(paths: readonly string[], socket: string): Promise<TrafficSnapshot | undefined> {
  try {
    const answer = await requestControl<{ snapshot?: TrafficSnapshot }>(socket, { cmd: 'status' });
    if (answer.snapshot) return answer.snapshot;
  } catch {
    // No daemon: read the kernel directly below.
  }
  const policy = await loadOrReport(paths, 'text');
  if (!policy) return undefined;
  const runtime = await openRuntime('sluice status');
  try {
    const rates = new RateEstimator(1);
    let last: TrafficSnapshot | undefined;
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      const planned = await runtime.applier.plan(policy, true);
      last = snapshot(planned.compiled, planned.observed, policy.host, rates, performance.now());
    }
    return last;
  } finally {
    await runtime.close();
  }
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('One row per container and direction: guarantee, ceiling, priority, current rate, % of guarantee, borrowed, drops; totals per direction against the link. From the daemon when `serve` runs, else straight from the kernel (over one second).')
    .argument('[paths...]', 'policy files (when no daemon runs)', ['policies/'])
    .addOption(outputOption())
    .option('--control-socket <path>', 'the daemon socket', DEFAULT_CONTROL_SOCKET)
    .addHelpText('after', '\nNeeds root. Exit status: 0 shown, 1 invalid policy, 3 kernel error, 4 not root.')
    .action(async (paths: string[], opts: StatusOptions) => {
      try {
        const snap = await readSnapshot(paths, opts.controlSocket);
        if (!snap) return;
        const loaded = await loadPolicyFromPaths(paths);
        const windows = loaded.ok ? windowsView(loaded.policy, Date.now()) : undefined;
        if (opts.output === 'json') printJson({ ...snap, windows });
        else process.stdout.write(`${renderStatus(snap)}\n${windows ? `\n${formatWindows(windows)}\n` : ''}`);
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      }
    });
}
