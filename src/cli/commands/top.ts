import type { Command } from 'commander';
import { DEFAULT_CONTROL_SOCKET } from '../../daemon/control';
import { SnapshotSource } from '../snapshotSource';
import { renderTop } from '../format/top';
import { EXIT, reportError } from '../output';
import { commandContainer, dockerEndpointOption, loadOrReport, DEFAULT_POLICY_PATHS } from './shared';

interface TopOptions {
  readonly dockerEndpoint?: string;
  readonly controlSocket: string;
  readonly interval: string;
}

export function registerTop(program: Command): void {
  program
    .command('top')
    .description('Live per-container rates, refreshed in the terminal: sorted by rate, a bar per row (rate against ceiling, | marks the guarantee). Uses the daemon when `serve` runs, the kernel otherwise. Press q to quit.')
    .argument('[paths...]', 'policy files (to know the containers)', [...DEFAULT_POLICY_PATHS])
    .addOption(dockerEndpointOption())
    .option('--control-socket <path>', 'the daemon socket', DEFAULT_CONTROL_SOCKET)
    .option('--interval <ms>', 'refresh interval', '1000')
    .addHelpText('after', '\nNeeds root (or the daemon socket). Keys: q or Ctrl-C quits.')
    .action(async (paths: string[], opts: TopOptions) => {
      const container = commandContainer(paths, opts);
      const policy = await loadOrReport(container, 'text');
      if (!policy) return;
      const source = new SnapshotSource(container, policy, 'sluice top', 500);
      let stop = false;
      const quit = (): void => {
        stop = true;
      };
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', (key: Buffer) => {
        const k = key.toString();
        if (k === 'q' || k === 'Q' || k === '\u0003') quit();
      });
      try {
        while (!stop) {
          const { snap, via } = await source.next();
          process.stdout.write(`\x1b[H\x1b[2J${renderTop(snap, via, process.stdout.columns ?? 100)}\n(q to quit)\n`);
          for (let waited = 0; waited < Number(opts.interval) && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
        }
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e);
      } finally {
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.pause();
        await source.close();
      }
    });
}
