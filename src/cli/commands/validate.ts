import type { Command } from 'commander';
import { formatPolicyIssue } from '../../policy/load';
import { loadPolicyFromPaths } from '../../sources/files/read';
import type { PolicyLoad } from '../../sources/loader';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, DEFAULT_POLICY_PATHS } from './shared';
import { TOKENS } from '../../wiring/tokens';
import type { PolicyLoader } from '../../sources/loader';

interface ValidateOptions {
  readonly output: OutputFormat;
  readonly docker: boolean;
  readonly dockerEndpoint?: string;
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check policy files: every error in every file, with file:line:column, the field and how to fix it. No root needed.')
    .argument('[paths...]', 'policy files or directories (*.yaml, *.yml, *.json)', [...DEFAULT_POLICY_PATHS])
    .addOption(outputOption())
    .option('--docker', "for a Docker host: also check the io.sluice.* labels of running containers with the files, and resolve the Docker matches (reads the Docker daemon)", false)
    .addOption(dockerEndpointOption())
    .addHelpText('after', '\nExit status: 0 valid, 1 invalid, 3 (--docker) the Docker daemon did not answer.\n\nExamples:\n  sluice validate policies/\n  sluice validate policies/demo.yaml -o json\n  sluice validate policies/docker/ --docker')
    .action(async (paths: string[], opts: ValidateOptions) => {
      let result: PolicyLoad;
      try {
        result = opts.docker ? await commandContainer(paths, opts).get<PolicyLoader>(TOKENS.PolicyLoader).load() : filesOnly(await loadPolicyFromPaths(paths));
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
        return;
      }
      if (opts.output === 'json') {
        printJson(result.ok ? { ok: true, files: result.files, containers: result.policy.containers.length, schedules: result.policy.schedules.length, waiting: result.waiting } : { ok: false, files: result.files, issues: result.issues });
      } else if (result.ok) {
        const p = result.policy;
        process.stdout.write(`OK: ${result.files.length} file(s), host ${p.host.name}, ${p.containers.length} container(s), ${p.schedules.length} schedule(s)\n`);
        for (const w of result.waiting) process.stdout.write(`note: ${w.container} is not shaped now: ${w.reason}\n`);
        if (p.host.sources.length > 0 && !opts.docker) process.stdout.write(`note: ${p.host.sources.join(', ')} labels and containers are read by plan, apply and serve; add --docker to check them now\n`);
      } else {
        for (const issue of result.issues) process.stderr.write(`${formatPolicyIssue(issue)}\n`);
        process.stderr.write(`\n${result.issues.length} error(s) in ${new Set(result.issues.map((i) => i.file)).size} source(s)\n`);
      }
      process.exitCode = result.ok ? EXIT.ok : EXIT.invalid;
    });
}

const filesOnly = (r: Awaited<ReturnType<typeof loadPolicyFromPaths>>): PolicyLoad => (r.ok ? { ...r, waiting: [], workloads: [] } : r);
