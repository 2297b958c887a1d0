import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openRuntime, isRoot } from '../../wiring/runtime';
import { compilePolicy, type CompiledContainer } from '../../compile';
import { SluiceError } from '../../errors';
import { describeObject } from '../../plan/format';
import type { SourceRef } from '../../policy/model';
import { emptyKernelState, objectKey, type KernelObject, type ObservedState } from '../../tc/model';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, loadOrReport } from './shared';
import { formatWindows, windowsView } from '../format/windows';

interface InspectOptions {
  readonly dockerEndpoint?: string;
  readonly output: OutputFormat;
}

class UnknownContainerError extends SluiceError {
  readonly code = 'ENOCONTAINER';
  constructor(name: string, known: readonly string[]) {
    super(`no container "${name}" in the policy`, `known containers: ${known.join(', ') || '(none)'}`);
  }
}

/** The policy document a container came from, as written (up to the next `---`). */
function sourceLines(source: SourceRef): string[] {
  try {
    const lines = readFileSync(source.file, 'utf8').split('\n');
    let start = source.line - 1;
    while (start > 0 && lines[start - 1] !== '---') start--;
    let end = source.line;
    while (end < lines.length && lines[end] !== '---') end++;
    return lines.slice(start, end).map((l, i) => `${String(start + i + 1).padStart(4)} | ${l}`);
  } catch {
    return [];
  }
}

/** Kernel objects behind one container: its devices, addresses, classes, leaf queues, filters. */
function objectsOf(c: CompiledContainer, observed: ObservedState): KernelObject[] {
  const classids = new Set(Object.values(c.classes).map((r) => `${r!.netns}/${r!.dev}/${r!.classid >>> 0}`));
  const devices = new Set([c.hostDev, c.containerDev].filter((d): d is string => d !== undefined));
  return [
    ...observed.namespaces.filter((n) => n.name === c.netns),
    ...observed.links.filter((l) => devices.has(l.name) && (l.netns === c.netns || l.name === c.hostDev)),
    ...observed.addresses.filter((a) => a.netns === c.netns),
    ...observed.routes.filter((r) => r.netns === c.netns),
    ...observed.classes.filter((k) => classids.has(`${k.netns}/${k.dev}/${k.classid >>> 0}`)),
    ...observed.qdiscs.filter((q) => classids.has(`${q.netns}/${q.dev}/${q.parent >>> 0}`)),
    ...observed.filters.filter((f) => f.spec.kind === 'u32' && f.spec.classid !== undefined && classids.has(`${f.netns}/${f.dev}/${f.spec.classid >>> 0}`)),
    ...observed.cgroups.filter((g) => g.cgroup === c.cgroup),
  ];
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('The kernel objects behind one container (namespace, devices, addresses, class ids, leaf queues, filters, cgroup) with their counters, and the policy lines they came from.')
    .argument('<container>', 'container name from the policy')
    .addOption(dockerEndpointOption())
    .argument('[paths...]', 'policy files or directories', ['policies/'])
    .addOption(outputOption())
    .addHelpText('after', '\nAs root it reads the kernel; otherwise it shows what apply would create.\nExit status: 0 shown, 1 invalid policy or unknown container, 3 kernel error.')
    .action(async (name: string, paths: string[], opts: InspectOptions) => {
      const wiring = commandContainer(paths, opts);
      const policy = await loadOrReport(wiring, opts.output);
      if (!policy) return;
      try {
        const fromKernel = isRoot();
        let observed: ObservedState = { ...emptyKernelState(), stats: new Map() };
        let compiled = compilePolicy(policy);
        if (fromKernel) {
          const runtime = await openRuntime(wiring, 'sluice inspect');
          try {
            const planned = await runtime.applier.plan(policy, true);
            observed = planned.observed;
            compiled = planned.compiled;
          } finally {
            await runtime.close();
          }
        }
        const container = compiled.containers.find((c) => c.name === name || c.workload?.name === name);
        if (!container) throw new UnknownContainerError(name, compiled.containers.map((c) => c.name));
        const objects = fromKernel ? objectsOf(container, observed) : [];
        const policyLines = sourceLines(container.source);
        if (opts.output === 'json') {
          printJson({ container, mode: policy.host.mode, windows: windowsView(policy, Date.now()), source: container.source, objects: objects.map((o) => ({ key: objectKey(o), object: o, counters: observed.stats.get(objectKey(o)) })) });
        } else {
          const out: string[] = [
            `container ${container.name} (match: ${container.matchKind}) on host ${policy.host.name}, ${policy.host.mode} mode`,
            formatWindows(windowsView(policy, Date.now())),
            `policy: ${container.source.file}:${container.source.line}`,
            ...policyLines,
            '',
          ];
          const w = container.workload;
          if (w) out.push(`${w.source} container: ${w.name} (${w.id.slice(0, 12)})${w.netns ? `, namespace ${w.netns}` : ''}`);
          out.push(`namespace: ${container.netns ?? '-'}  address: ${container.address ?? '-'}  host device: ${container.hostDev ?? '-'}  container device: ${container.containerDev ?? '-'}${container.cgroup ? `  cgroup: ${container.cgroup}` : ''}`);
          for (const [dir, ref] of Object.entries(container.classes)) out.push(`${dir}: class ${ref.classid >>> 16}:${(ref.classid & 0xffff).toString(16)} on ${ref.dev} in ${ref.netns}`);
          out.push('', fromKernel ? 'kernel objects:' : 'kernel objects: (not root: run as root to read the kernel)');
          for (const o of objects) {
            const s = observed.stats.get(objectKey(o));
            out.push(`  ${describeObject(o)}`);
            if (s) out.push(`      sent ${s.bytes} bytes ${s.packets} pkts, dropped ${s.drops}, overlimits ${s.overlimits}, backlog ${s.backlogBytes}b${s.htb ? `, lends ${s.htb.lends}, borrows ${s.htb.borrows}` : ''}`);
          }
          process.stdout.write(`${out.join('\n')}\n`);
        }
        process.exitCode = EXIT.ok;
      } catch (e) {
        const code = reportError(e, opts.output);
        process.exitCode = e instanceof UnknownContainerError ? EXIT.invalid : code;
      }
    });
}
