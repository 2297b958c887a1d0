import type { Command } from 'commander';
import { openRuntime, type Runtime } from '../../app/runtime';
import { DEFAULT_CONTROL_SOCKET, requestControl } from '../../daemon/control';
import type { Policy } from '../../policy/model';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../../traffic/snapshot';
import { renderTop } from '../format/top';
import { EXIT, reportError } from '../output';
import { loadOrReport } from './shared';

interface TopOptions {
  readonly controlSocket: string;
  readonly interval: string;
}

/** Snapshots from the daemon when it answers, else read straight from the kernel. */
class SnapshotSource {
  private runtime: Runtime | undefined;
  private readonly rates = new RateEstimator(500);
  constructor(private readonly policy: Policy, private readonly socket: string) {}

  async next(): Promise<{ snap: TrafficSnapshot; via: string }> {
    try {
      const answer = await requestControl<{ snapshot?: TrafficSnapshot }>(this.socket, { cmd: 'status' }, 1000);
      if (answer.snapshot) return { snap: answer.snapshot, via: `daemon (${this.socket})` };
    } catch {
      // No daemon running: read the kernel ourselves.
    }
    this.runtime ??= await openRuntime('sluice top');
    const planned = await this.runtime.applier.plan(this.policy, true);
    return { snap: snapshot(planned.compiled, planned.observed, this.policy.host, this.rates, performance.now()), via: 'kernel (no daemon)' };
  }

  async close(): Promise<void> {
    await this.runtime?.close();
  }
}

export function registerTop(program: Command): void {
  program
    .command('top')
    .description('Live per-container rates, refreshed in the terminal: sorted by rate, a bar per row (rate against ceiling, | marks the guarantee). Uses the daemon when `serve` runs, the kernel otherwise. Press q to quit.')
    .argument('[paths...]', 'policy files (to know the containers)', ['policies/'])
    .option('--control-socket <path>', 'the daemon socket', DEFAULT_CONTROL_SOCKET)
    .option('--interval <ms>', 'refresh interval', '1000')
    .addHelpText('after', '\nNeeds root (or the daemon socket). Keys: q or Ctrl-C quits.')
    .action(async (paths: string[], opts: TopOptions) => {
      const policy = await loadOrReport(paths, 'text');
      if (!policy) return;
      const source = new SnapshotSource(policy, opts.controlSocket);
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
