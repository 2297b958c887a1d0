import type { Command } from 'commander';
import { openRuntime } from '../../wiring/runtime';
import { ExecutionFailedError } from '../../apply/errors';
import { SluiceError } from '../../errors';
import { acquireHostLock, commandLine } from '../../host/lock';
import { describeOperation, formatPlan, planToJson, summarize } from '../../plan/format';
import type { Policy } from '../../policy/model';
import { HOST_NETNS } from '../../tc/model';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, loadOrReport, DEFAULT_POLICY_PATHS } from './shared';

interface ApplyOptions {
  readonly dockerEndpoint?: string;
  readonly output: OutputFormat;
  readonly hostNetns: boolean;
}

class HostNamespaceRefusedError extends SluiceError {
  readonly code = 'EHOSTNS';
  constructor() {
    super('the policy puts the bridge in the real host namespace (netns: host), and --host-netns was not given', 'try it in the sandbox first (leave netns out: sl-host), or pass --host-netns if you mean it');
  }
}

/** The real host namespace only on explicit request. */
export function assertNamespaceAllowed(policy: Policy, hostNetns: boolean): void {
  if (policy.host.netns === HOST_NETNS && !hostNetns) throw new HostNamespaceRefusedError();
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('Converge the kernel to the policy: sandbox host, managed namespaces, veths, addresses, HTB trees, filters. Validates first; changes nothing on an invalid policy. Running it again changes nothing.')
    .argument('[paths...]', 'policy files or directories', [...DEFAULT_POLICY_PATHS])
    .addOption(dockerEndpointOption())
    .addOption(outputOption())
    .option('--host-netns', 'allow a policy whose host is the real host namespace (netns: host)', false)
    .addHelpText('after', '\nNeeds root. Exit status: 0 converged, 1 invalid policy (or more containers in namespaces of their own than the bridge has ports, 1,023), 3 the kernel refused an operation (the report says what was and was not applied; run apply again to continue), 4 not root, 5 another Sluice process (named) writes to this host.\n\nExamples:\n  sudo npx sluice apply policies/demo.yaml\n  sudo npx sluice apply policies/ -o json')
    .action(async (paths: string[], opts: ApplyOptions) => {
      const container = commandContainer(paths, opts);
      const policy = await loadOrReport(container, opts.output);
      if (!policy) return;
      try {
        assertNamespaceAllowed(policy, opts.hostNetns);
        const lock = acquireHostLock({ netns: policy.host.netns, command: commandLine() });
        const runtime = await openRuntime(container, 'sluice apply');
        try {
          const started = performance.now();
          const outcome = await runtime.applier.apply(policy);
          const ms = performance.now() - started;
          if (opts.output === 'json') {
            printJson({ ok: !outcome.report.failed, ms, ...planToJson(outcome.report.applied), failed: outcome.report.failed ? { operation: describeOperation(outcome.report.failed.operation), error: outcome.report.failed.error.message } : undefined, skipped: outcome.report.skipped.length });
          } else if (outcome.plan.length === 0) {
            process.stdout.write('No changes: the kernel already matches the policy.\n');
          } else if (!outcome.report.failed) {
            const s = summarize(outcome.plan);
            process.stdout.write(`${formatPlan(outcome.plan).split('\n').slice(0, -2).join('\n')}\n\nApplied: ${s.create} created, ${s.change} changed, ${s.delete} deleted in ${ms.toFixed(0)} ms.\n`);
          }
          if (outcome.report.failed) throw new ExecutionFailedError('sluice apply', outcome.report);
          process.exitCode = EXIT.ok;
        } finally {
          await runtime.close();
          lock.release();
        }
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      }
    });
}
