import type { Command } from 'commander';
import type { OwnershipStore } from '../../ports/ownership';
import { openRuntime } from '../../wiring/runtime';
import { ExecutionFailedError } from '../../apply/errors';
import { describeObject, summarize } from '../../plan/format';
import { loadPolicyFromPaths } from '../../sources/files/read';
import { TOKENS } from '../../wiring/tokens';
import { commandContainer } from './shared';
import { acquireHostLocks, commandLine } from '../../host/lock';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';

interface DestroyOptions {
  readonly output: OutputFormat;
}

export function registerDestroy(program: Command): void {
  program
    .command('destroy')
    .description('Remove everything Sluice recorded creating (namespaces, links, addresses, routes, qdiscs, classes, filters) and nothing else. Enforcement stops.')
    .argument('[paths...]', 'policy files: also look where they point (what Sluice has no record of creating is never removed)', [])
    .addOption(outputOption())
    .addHelpText('after', '\nNeeds root. Without paths, removes what every previous apply recorded (/run/sluice, or $SLUICE_STATE_DIR).\n\nExamples:\n  sudo npx sluice destroy\n  sudo npx sluice destroy policies/demo.yaml')
    .action(async (paths: string[], opts: DestroyOptions) => {
      try {
        const loaded = paths.length > 0 ? await loadPolicyFromPaths(paths) : undefined;
        const policy = loaded?.ok ? loaded.policy : undefined;
        const container = commandContainer(paths);
        const records = await container.get<OwnershipStore>(TOKENS.OwnershipStore).list();
        const hosts = new Set(records.map((r) => r.host));
        if (policy) hosts.add(policy.host.name);
        const locks = acquireHostLocks([...records.map((r) => r.hostNetns), ...(policy ? [policy.host.netns] : [])], commandLine());
        const runtime = await openRuntime(container, 'sluice destroy');
        const removed: Record<string, number> = {};
        const kept: Record<string, string[]> = {};
        try {
          for (const host of hosts) {
            const outcome = await runtime.applier.destroy(host, policy?.host.name === host ? policy : undefined);
            if (outcome.report.failed) throw new ExecutionFailedError(`destroying ${host}`, outcome.report);
            removed[host] = summarize(outcome.plan).delete;
            if (outcome.kept.length > 0) kept[host] = outcome.kept.map((o) => describeObject(o));
          }
        } finally {
          await runtime.close();
          for (const lock of locks) lock.release();
        }
        if (opts.output === 'json') printJson({ ok: true, removed, kept });
        else if (hosts.size === 0) process.stdout.write('Nothing to destroy: no record of anything Sluice created.\n');
        else {
          for (const [host, n] of Object.entries(removed)) process.stdout.write(`Destroyed host ${host}: ${n} delete operation(s) (the kernel removes what lives inside a deleted namespace).\n`);
          for (const [host, objects] of Object.entries(kept)) process.stdout.write(`Kept for host ${host}, because objects Sluice did not create are inside: ${objects.join('; ')}\n`);
        }
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      }
    });
}
