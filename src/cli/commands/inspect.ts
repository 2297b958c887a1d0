import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openRuntime, isRoot } from '../../wiring/runtime';
import { compilePolicy, type CompiledClassRef, type CompiledContainer } from '../../compile';
import { SluiceError } from '../../errors';
import { DEFAULT_CONTROL_SOCKET, requestControl } from '../../daemon/control';
import type { ContainerTraffic, PeerTraffic } from '../../traffic/snapshot';
import { describeObject } from '../../plan/format';
import type { SourceRef } from '../../policy/model';
import { DIRECTIONS, emptyKernelState, type Direction, type ObservedState } from '../../tc/model';
import { objectKey } from '../../tc/identity';
import { formatHandle } from '../../tc/handle';
import { containerObjects, groupObjects } from '../format/inspect';
import type { CompiledGroup } from '../../compile';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, dockerEndpointOption, loadSourceOrReport, DEFAULT_POLICY_PATHS } from './shared';
import type { PolicyLoader } from '../../sources/loader';
import type { UnshapedWorkload } from '../../sources/source';
import { TOKENS } from '../../wiring/tokens';
import { describeUnshaped } from '../format/unshaped';
import { formatWindows, windowsView } from '../format/windows';

interface InspectOptions {
  readonly dockerEndpoint?: string;
  readonly output: OutputFormat;
  readonly controlSocket: string;
}

/** What a running daemon knows of one container: as compiled now, and its live rates. */
interface DaemonView {
  readonly container?: CompiledContainer;
  readonly snapshot?: readonly ContainerTraffic[];
  /** With peer sets: its live rows per set. */
  readonly peers?: readonly PeerTraffic[];
  /** A workload of that name found running and not shaped, and why. */
  readonly unshaped?: readonly UnshapedWorkload[];
}

/** Its class and rates in each peer set per direction, and the live rate from the daemon where it runs. */
function peerSetLines(inSets: readonly { peer: string; classes: Readonly<Record<Direction, CompiledClassRef>> }[], live: readonly PeerTraffic[]): string[] {
  return inSets.flatMap(({ peer, classes }) =>
    DIRECTIONS.map((dir) => {
      const ref = classes[dir];
      const now = live.find((r) => r.peer === peer && r.direction === dir);
      return `${dir} with peer set ${peer}: class ${formatHandle(ref.classid)} (guarantee ${(ref.guarantee / 1e6).toFixed(2)} mbit/s, ceiling ${(ref.ceiling / 1e6).toFixed(2)} mbit/s, prio ${ref.priority})${now ? `, ${(now.rate / 1e6).toFixed(2)} mbit/s now (from the daemon)` : ''}`;
    }),
  );
}

/** The daemon's view, or undefined when no daemon answers on the socket. */
async function askDaemon(socket: string, name: string): Promise<DaemonView | undefined> {
  try {
    return await requestControl<DaemonView>(socket, { cmd: 'inspect', container: name }, 1000);
  } catch {
    return undefined;
  }
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

/** The kernel objects with their counters, one or two lines each. */
function objectLines(objects: readonly ReturnType<typeof containerObjects>[number][], observed: ObservedState, fromKernel: boolean): string[] {
  const out = [fromKernel ? 'kernel objects:' : 'kernel objects: (not root: run as root to read the kernel)'];
  for (const o of objects) {
    const s = observed.stats.get(objectKey(o));
    out.push(`  ${describeObject(o)}`);
    if (s) out.push(`      sent ${s.bytes} bytes ${s.packets} pkts, dropped ${s.drops}, overlimits ${s.overlimits}, backlog ${s.backlogBytes}b${s.htb ? `, lends ${s.htb.lends}, borrows ${s.htb.borrows}` : ''}`);
  }
  return out;
}

/** `inspect <group>`: its policy lines, where it hangs, its members, and its kernel objects. */
function printGroup(group: CompiledGroup, observed: ObservedState, fromKernel: boolean, output: OutputFormat, host: string): void {
  const objects = fromKernel ? groupObjects(group, observed) : [];
  if (output === 'json') {
    printJson({ group, source: group.source, objects: objects.map((o) => ({ key: objectKey(o), object: o, counters: observed.stats.get(objectKey(o)) })), via: fromKernel ? 'kernel' : 'policy' });
    return;
  }
  const out: string[] = [`group ${group.name} on host ${host}, ${group.parent ? `in group ${group.parent}` : 'under the link'} (level ${group.level})`, `policy: ${group.source.file}:${group.source.line}`, ...sourceLines(group.source), '', `members: ${group.members.join(', ')}`];
  for (const [dir, ref] of Object.entries(group.classes)) out.push(`${dir}: class ${formatHandle(ref.classid)} (guarantee ${(ref.guarantee / 1e6).toFixed(2)} mbit/s, ceiling ${(ref.ceiling / 1e6).toFixed(2)} mbit/s, prio ${ref.priority}) holding HTB ${formatHandle(group.qdisc)} on ${ref.dev} in ${ref.netns}`);
  out.push('', ...objectLines(objects, observed, fromKernel));
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('The kernel objects behind one container (namespace, devices, addresses, class ids, leaf queues, filters, cgroup) or one group (its class, its own HTB, its members\' classes, its filters) with their counters, and the policy lines they came from.')
    .argument('<container>', 'container (or group) name from the policy')
    .addOption(dockerEndpointOption())
    .argument('[paths...]', 'policy files or directories', [...DEFAULT_POLICY_PATHS])
    .addOption(outputOption())
    .option('--control-socket <path>', 'the daemon socket: when `serve` runs, its compiled view and live rates are shown too', DEFAULT_CONTROL_SOCKET)
    .addHelpText('after', '\nAs root it reads the kernel; otherwise it shows what apply would create.\nExit status: 0 shown, 1 invalid policy or unknown container, 3 kernel error.')
    .action(async (name: string, paths: string[], opts: InspectOptions) => {
      const wiring = commandContainer(paths, opts);
      const loaded = await loadSourceOrReport(wiring.get<PolicyLoader>(TOKENS.PolicyLoader), opts.output);
      if (!loaded) return;
      const policy = loaded.policy;
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
        const group = compiled.groups.find((g) => g.name === name);
        if (group) {
          printGroup(group, observed, fromKernel, opts.output, policy.host.name);
          process.exitCode = EXIT.ok;
          return;
        }
        const asked = await askDaemon(opts.controlSocket, name);
        const daemon = asked?.container ? asked : undefined;
        const container = daemon?.container ?? compiled.containers.find((c) => c.name === name || c.workload?.name === name);
        const unshaped = (asked?.unshaped ?? loaded.unshaped).filter((u) => u.workload === name);
        if (!container && unshaped.length > 0) {
          if (opts.output === 'json') printJson({ workload: name, shaped: false, unshaped });
          else process.stdout.write(`${name} is not shaped:\n${unshaped.map(describeUnshaped).join('\n')}\n`);
          process.exitCode = EXIT.ok;
          return;
        }
        if (!container) throw new UnknownContainerError(name, [...compiled.containers.map((c) => c.name), ...compiled.groups.map((g) => `${g.name} (group)`)]);
        // With peer sets: its class in each set (the one in `classes` is its class in the default set).
        const at = compiled.containers.findIndex((c) => c.name === container.name);
        const inSets = (compiled.peerSets ?? []).flatMap((s) => (s.containers[at] ? [{ peer: s.name, classes: s.containers[at] }] : []));
        const objects = fromKernel ? containerObjects(container, observed, inSets.flatMap((s) => DIRECTIONS.map((d) => s.classes[d]))) : [];
        const policyLines = sourceLines(container.source);
        if (opts.output === 'json') {
          printJson({ container, mode: policy.host.mode, windows: windowsView(policy, Date.now()), source: container.source, objects: objects.map((o) => ({ key: objectKey(o), object: o, counters: observed.stats.get(objectKey(o)) })), via: daemon ? `daemon (${opts.controlSocket})` : fromKernel ? 'kernel' : 'policy', traffic: daemon?.snapshot ?? [], peers: inSets, peerTraffic: daemon?.peers ?? [] });
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
          if (container.group) out.push(`group: ${container.group}`);
          out.push(`namespace: ${container.netns ?? '-'}  address: ${container.address ?? '-'}  host device: ${container.hostDev ?? '-'}  container device: ${container.containerDev ?? '-'}${container.cgroup ? `  cgroup: ${container.cgroup}` : ''}`);
          for (const row of daemon?.snapshot ?? []) out.push(`${row.direction}: ${(row.rate / 1e6).toFixed(2)} mbit/s now (from the daemon)`);
          for (const [dir, ref] of Object.entries(container.classes)) out.push(`${dir}: class ${formatHandle(ref.classid)} on ${ref.dev} in ${ref.netns}`);
          out.push(...peerSetLines(inSets, daemon?.peers ?? []));
          out.push('', ...objectLines(objects, observed, fromKernel));
          process.stdout.write(`${out.join('\n')}\n`);
        }
        process.exitCode = EXIT.ok;
      } catch (e) {
        const code = reportError(e, opts.output);
        process.exitCode = e instanceof UnknownContainerError ? EXIT.invalid : code;
      }
    });
}
