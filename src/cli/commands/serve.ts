import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Container } from 'inversify';
import { JsonLogger } from '../../ports/logger';
import { openRuntime } from '../../wiring/runtime';
import { TOKENS } from '../../wiring/tokens';
import type { Logger } from '../../ports/logger';
import { DEFAULT_CONTROL_SOCKET } from '../../daemon/control';
import { ANSWER_SCHEDSTAT_ENV, type Daemon, type DaemonOptions } from '../../daemon/serve';
import type { PolicyLoader } from '../../sources/loader';
import { acquireHostLock, commandLine } from '../../host/lock';
import { EXIT, reportError } from '../output';
import { assertNamespaceAllowed } from './apply';
import { commandContainer, dockerEndpointOption, loadSourceOrReport, DEFAULT_POLICY_PATHS, type LoadedPolicy } from './shared';
import { startMetricsServer, type SluiceMetrics } from '../../metrics/metrics';

interface ServeOptions {
  readonly tick: string;
  readonly metricsAddress: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly controlSocket: string;
  readonly hostNetns: boolean;
  readonly dockerEndpoint?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Keep the kernel converged: every tick observe → diff → execute (drift is repaired and logged), reload policies on change and SIGHUP (a bad file is reported and the last good policy stays), open and close time windows on schedule. Logs are JSON lines on stderr.')
    .argument('[paths...]', 'policy files or directories', [...DEFAULT_POLICY_PATHS])
    .option('--tick <ms>', 'reconcile interval in milliseconds', '1000')
    .option('--control-socket <path>', 'unix socket for `sluice status`/`top`/`inspect` (mode 0600)', DEFAULT_CONTROL_SOCKET)
    .option('--host-netns', 'allow a policy whose host is the real host namespace', false)
    .addOption(dockerEndpointOption())
    .addOption(new Option('--log-level <level>', 'least severe level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--metrics-address <host:port>', 'serve /metrics and /healthz here (loopback unless you say otherwise); "off" to disable').default('127.0.0.1:9617').argParser(metricsAddress))
    .addHelpText('after', '\nNeeds root. SIGTERM/SIGINT stop the daemon and leave enforcement in place; `sluice destroy` removes it.\nRestarted, it adopts what is in the kernel: no changes, no traffic interruption.\nFor a Docker host (a Host with a docker section) it follows the daemon\'s events: a container that starts is shaped within a tick, one that stops loses its classes; if Docker goes away the last good state stays until it returns.\n\nExample:\n  sudo npx sluice serve policies/ --tick 500')
    .action(async (paths: string[], opts: ServeOptions) => {
      const logger = new JsonLogger(opts.logLevel);
      const container = commandContainer(paths, { ...opts, logger, followKernelChanges: true });
      const loaded = await loadSourceOrReport(container.get<PolicyLoader>(TOKENS.PolicyLoader), 'text');
      if (!loaded) return;
      try {
        assertNamespaceAllowed(loaded.policy, opts.hostNetns);
        // Held for the daemon's life; the kernel releases it however the process ends.
        acquireHostLock({ netns: loaded.policy.host.netns, command: commandLine(), controlSocket: opts.controlSocket });
        container.bind<Omit<DaemonOptions, 'controlSocket'>>(TOKENS.DaemonOptions).toConstantValue({ paths, tickMs: Number(opts.tick), ...answerCostOf(opts.logLevel) });
        await serveUntilSignalled(container, loaded, opts.metricsAddress, logger);
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}

async function serveUntilSignalled(container: Container, loaded: LoadedPolicy, metricsAddress: string, logger: Logger): Promise<void> {
  const runtime = await openRuntime(container, 'sluice serve');
  const daemon = await container.getAsync<Daemon>(TOKENS.Daemon);
  const metrics = await container.getAsync<SluiceMetrics>(TOKENS.Metrics);
  const http = metricsAddress === 'off' ? undefined : await startMetricsServer(metricsAddress, metrics);
  if (http) logger.log('info', 'metrics', { address: metricsAddress, paths: ['/metrics', '/healthz'] });
  await daemon.start(loaded.policy, loaded.unshaped);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.log('info', 'signal', { signal });
      http?.close();
      void daemon.stop().then(() => runtime.close()).then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** A malformed address is a usage error (exit 2), refused before the daemon starts. */
function metricsAddress(value: string): string {
  if (value === 'off' || /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(value)) return value;
  throw new InvalidArgumentError('expected host:port (e.g. 127.0.0.1:9617, [::1]:9617) or "off"');
}

/** Answers are measured only for the debug log that reports them. */
function answerCostOf(logLevel: string): Pick<DaemonOptions, 'answerCost'> {
  if (logLevel !== 'debug') return {};
  return { answerCost: process.env[ANSWER_SCHEDSTAT_ENV] === '1' ? 'schedstat' : 'cost' };
}
