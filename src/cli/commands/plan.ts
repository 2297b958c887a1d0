import type { Command } from 'commander';
import { compilePolicy } from '../../compile';
import { formatPlan, planToJson } from '../../plan/format';
import { diff } from '../../plan/diff';
import { emptyKernelState, type KernelState } from '../../tc/model';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, loadOrReport, DEFAULT_POLICY_PATHS } from './shared';
import { formatWindows, windowsView } from '../format/windows';
import type { CompiledPolicy } from '../../compile';
import { formatHandle } from '../../tc/handle';

/** Class id per container (the same in both trees), and the cgroup it tags if any. */
function classids(compiled: CompiledPolicy): { name: string; classid: string; cgroup?: string; workload?: string; source?: string; address?: string }[] {
  return compiled.containers.map((c) => {
    const ref = c.classes.download ?? c.classes.upload;
    return { name: c.name, classid: ref ? formatHandle(ref.classid) : '-', ...(c.cgroup ? { cgroup: c.cgroup } : {}), ...(c.workload ? { workload: c.workload.name, source: c.workload.source, address: c.address } : {}) };
  });
}
import type { Container } from 'inversify';
import type { Policy } from '../../policy/model';
import { isRoot, openRuntime } from '../../wiring/runtime';

interface PlanOptions {
  readonly dockerEndpoint?: string;
  readonly output: OutputFormat;
  readonly against: 'auto' | 'empty' | 'kernel';
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('Show the ordered operations `apply` would perform (create/change/delete of namespaces, links, addresses, qdiscs, classes, filters, classids). Changes nothing.')
    .argument('[paths...]', 'policy files or directories', [...DEFAULT_POLICY_PATHS])
    .addOption(dockerEndpointOption())
    .addOption(outputOption())
    .option('--against <state>', 'compare with: kernel (the current state; root), empty (a fresh machine), auto (kernel when root)', 'auto')
    .addHelpText('after', '\nExit status: 0 plan shown, 1 invalid policy, 3 kernel error.\n\nExamples:\n  sluice plan policies/\n  sluice plan policies/demo.yaml --against empty -o json')
    .action(async (paths: string[], opts: PlanOptions) => {
      const container = commandContainer(paths, opts);
      const policy = await loadOrReport(container, opts.output);
      if (!policy) return;
      try {
        const useKernel = opts.against === 'kernel' || (opts.against === 'auto' && isRoot());
        const observed: KernelState = useKernel ? await observeCurrent(container, policy) : emptyKernelState();
        const compiled = compilePolicy(policy, { observed });
        const plan = diff(compiled.state, observed);
        const windows = windowsView(policy, Date.now());
        if (opts.output === 'json') printJson({ against: useKernel ? 'kernel' : 'empty', mode: policy.host.mode, windows, classids: classids(compiled), notes: compiled.notes, ...planToJson(plan) });
        else {
          process.stdout.write(`Host ${policy.host.name} (${policy.host.mode} mode) against ${useKernel ? 'the current kernel state' : 'an empty state'}:\n`);
          process.stdout.write(`${formatWindows(windows)}\n`);
          for (const c of classids(compiled)) process.stdout.write(`container ${c.name}: class ${c.classid}${c.cgroup ? ` (net_cls.classid of cgroup ${c.cgroup})` : ''}${c.workload ? ` (${c.source} ${c.workload}, ${c.address})` : ''}\n`);
          for (const note of compiled.notes) process.stdout.write(`note: ${note}\n`);
          process.stdout.write(`${formatPlan(plan)}\n`);
        }
        process.exitCode = EXIT.ok;
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      }
    });
}

/** The kernel state a policy covers (for `plan` as root). */
async function observeCurrent(container: Container, policy: Policy): Promise<KernelState> {
  const runtime = await openRuntime(container, 'reading the kernel state');
  try {
    return (await runtime.applier.plan(policy)).observed;
  } finally {
    await runtime.close();
  }
}
