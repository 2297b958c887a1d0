import type { Command } from 'commander';
import { formatPolicyIssue, loadPolicyFromPaths } from '../../policy/load';
import { EXIT, outputOption, printJson, type OutputFormat } from '../output';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check policy files: every error in every file, with file:line:column, the field and how to fix it. No root needed.')
    .argument('[paths...]', 'policy files or directories (*.yaml, *.yml, *.json)', ['policies/'])
    .addOption(outputOption())
    .addHelpText('after', '\nExit status: 0 valid, 1 invalid.\n\nExamples:\n  sluice validate policies/\n  sluice validate policies/demo.yaml -o json')
    .action(async (paths: string[], opts: { output: OutputFormat }) => {
      const result = await loadPolicyFromPaths(paths);
      if (opts.output === 'json') {
        printJson(result.ok ? { ok: true, files: result.files, containers: result.policy.containers.length, schedules: result.policy.schedules.length } : { ok: false, files: result.files, issues: result.issues });
      } else if (result.ok) {
        const p = result.policy;
        process.stdout.write(`OK: ${result.files.length} file(s), host ${p.host.name}, ${p.containers.length} container(s), ${p.schedules.length} schedule(s)\n`);
      } else {
        for (const issue of result.issues) process.stderr.write(`${formatPolicyIssue(issue)}\n`);
        process.stderr.write(`\n${result.issues.length} error(s) in ${new Set(result.issues.map((i) => i.file)).size} file(s)\n`);
      }
      process.exitCode = result.ok ? EXIT.ok : EXIT.invalid;
    });
}
