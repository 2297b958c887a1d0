import type { Command } from 'commander';
import { DEFAULT_CONTROL_SOCKET } from '../../daemon/control';
import { renderStatus } from '../format/status';
import type { Policy } from '../../policy/model';
import { SnapshotSource, type SourcedSnapshot } from '../snapshotSource';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, loadOrReport, DEFAULT_POLICY_PATHS } from './shared';
import type { Container } from 'inversify';
import { formatWindows, windowsView } from '../format/windows';

interface StatusOptions {
  readonly dockerEndpoint?: string;
  readonly output: OutputFormat;
  readonly controlSocket: string;
}

/** From the daemon when it runs; otherwise read the kernel twice, a second apart, for rates. */
async function readSnapshot(container: Container, policy: Policy): Promise<SourcedSnapshot> {
  const source = new SnapshotSource(container, policy, 'sluice status', 1);
  try {
    const first = await source.next();
    if (first.fromDaemon) return first;
    await new Promise((r) => setTimeout(r, 1000));
    return await source.next();
  } finally {
    await source.close();
  }
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('One row per container and direction: guarantee, ceiling, priority, current rate, % of guarantee, borrowed, drops; totals per direction against the link. From the daemon when `serve` runs, else straight from the kernel (over one second).')
    .argument('[paths...]', 'policy files (for the containers and time windows)', [...DEFAULT_POLICY_PATHS])
    .addOption(dockerEndpointOption())
    .addOption(outputOption())
    .option('--control-socket <path>', 'the daemon socket', DEFAULT_CONTROL_SOCKET)
    .addHelpText('after', '\nNeeds root. Exit status: 0 shown, 1 invalid policy, 3 kernel error, 4 not root.')
    .action(async (paths: string[], opts: StatusOptions) => {
      const container = commandContainer(paths, opts);
      const policy = await loadOrReport(container, opts.output);
      if (!policy) return;
      try {
        const { snap, via } = await readSnapshot(container, policy);
        const windows = windowsView(policy, Date.now());
        if (opts.output === 'json') printJson({ ...snap, windows, via });
        else process.stdout.write(`${renderStatus(snap)}\n\n${formatWindows(windows)}\n`);
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      }
    });
}
