import type { Command } from 'commander';
import { openRuntime, type Runtime } from '../../wiring/runtime';
import type { CompiledPolicy } from '../../compile';
import { DockerDemo, DOCKER_POLICY } from '../../demo/docker';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type PhaseResult, type TrafficSite } from '../../demo/run';
import { DESTINATIONS_PEER, DESTINATIONS_POLICY, runDestinationsPart } from '../../demo/destinationsDemo';
import { teardownSets } from '../../demo/destinations';
import { loadPolicyFromPaths } from '../../sources/files/read';
import { formatPolicyIssue } from '../../policy/issues';
import { SluiceError } from '../../errors';
import type { Policy } from '../../policy/model';
import { DEMO_DIRECTIONS, phasesFor } from '../../demo/scenario';
import { policyJudge } from '../../demo/written';
import { formatVerdict } from '../../measure/verdict';
import { formatLatency, type LatencyReport } from '../../measure/latency';
import { measureLatency, probeContainer } from '../../demo/latency';
import { EXIT, outputOption, printJson, reportError, type OutputFormat } from '../output';
import { commandContainer, loadOrReport } from './shared';
import { acquireHostLock, commandLine, type HostLock } from '../../host/lock';
import { TESTBED } from '../../sources/docker/testbed';
import { packageFile } from '../../packageFiles';
import type { Direction } from '../../tc/model';

/**
 * The demo's containers and the two tenants beside them (their phase judged by the
 * hierarchical oracle), from the package: an installed `sluice demo` runs from anywhere.
 */
const DEFAULT_POLICY = [packageFile('policies', 'demo.yaml'), packageFile('policies', 'tenants.yaml')];

interface DemoCliOptions {
  readonly output: OutputFormat;
  readonly phaseSeconds: string;
  readonly warmupSeconds: string;
  readonly direction: 'both' | Direction;
  readonly keep: boolean;
  readonly docker: boolean;
  readonly latencySeconds: string;
  readonly destinations: boolean;
}

/** One demo bed: the sandbox, or the Docker test bed. */
interface Bed {
  readonly describe: string;
  build(out: (t: string) => void): Promise<{ policy: Policy; compiled: CompiledPolicy; site: TrafficSite }>;
  tearDown(): Promise<void>;
}

/** The package's case (a) file did not load: the install is broken, not the user's policy. */
class DemoPolicyError extends SluiceError {
  readonly code = 'EDEMOPOLICY';
  constructor(file: string, issues: readonly string[]) {
    super(`the demo's destination-classes policy ${file} is not valid: ${issues.join('; ')}`, 'reinstall the package, or skip that part with --no-destinations');
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Show the four rules with real traffic in about a minute: builds a sandbox (host, 4 containers, 3 more in two tenants, a remote peer) in sl- namespaces, applies policies/demo.yaml and policies/tenants.yaml, drives traffic in phases, prints live per-container rates and a verdict per phase against the ideal allocation, then removes everything. It ends with destination classes, case (a): a second sandbox from policies/destinations/demo/case-a.yaml with a "cluster" peer (its own address set) and the remote peer (the default set "internet") routed through the host, traffic to both at once, live rates per container and peer set: cluster traffic limited only by the link, internet traffic capped per pod, judged the same way.')
    .argument('[policy]', 'the demo policy (default: policies/demo.yaml with the two tenants of policies/tenants.yaml; with --docker, policies/docker/)')
    .addOption(outputOption())
    .option('--phase-seconds <n>', 'length of each phase', '5')
    .option('--warmup-seconds <n>', 'skipped at the start of each phase before measuring', '1.5')
    .option('--direction <dir>', 'download, upload or both', 'both')
    .option('--latency-seconds <n>', 'after the phases, RTT of a light flow to the priority-0 container, idle then under load, each this long (0: skip)', '4')
    .option('--keep', 'leave the sandbox in place at the end (remove it with `sluice destroy`); skips the destination-classes part, whose sandbox routes the same remote peer', false)
    .option('--no-destinations', 'skip the last part (destination classes, case (a))')
    .option('--docker', 'the same with real Docker containers: starts a test dockerd in namespace sl-docker (unless one answers at unix:///run/sl-docker.sock), builds the image sl-iperf3:local if missing (debootstrap, once), brings up docker-compose.test.yml, shapes it from its labels, and stops and removes all of it at the end', false)
    .addHelpText('after', '\nNeeds root. Exit status: 0 every phase within tolerance (each container within 5% of link capacity of the oracle, utilisation >= 95%), 1 a phase failed, 3 kernel error, 4 not root, 5 another Sluice process (named) writes to this host, 130 interrupted.\nCtrl-C at any point removes everything the demo made.')
    .action(async (policyArg: string | undefined, opts: DemoCliOptions) => {
      const out = opts.output === 'json' ? () => undefined : (t: string) => process.stdout.write(`${t}\n`);
      let runtime: Awaited<ReturnType<typeof openRuntime>> | undefined;
      let bed: Bed | undefined;
      /** What each part made, removed in order, each once (a signal may come while one is removed). */
      const parts: (() => Promise<void>)[] = [];
      const removing = new Map<() => Promise<void>, Promise<void>>();
      const remove = (part: () => Promise<void>): Promise<void> => {
        if (!removing.has(part)) removing.set(part, part());
        return removing.get(part)!;
      };
      const cleanup = async (): Promise<void> => {
        if (opts.keep) return;
        for (const part of parts) await remove(part);
      };
      // `on`, not `once`: while this listener is registered, the load generator's own signal
      // handler only kills its children and leaves the exit to us, after the cleanup.
      const onSignal = (signal: NodeJS.Signals): void => {
        out(`\n${signal}: removing the sandbox…`);
        void cleanup()
          .catch((e: unknown) => reportError(e, opts.output))
          .finally(() => process.exit(EXIT.interrupted));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const sandboxPolicy = policyArg ? [policyArg] : DEFAULT_POLICY;
        runtime = await openRuntime(commandContainer(opts.docker ? [] : sandboxPolicy), 'sluice demo');
        bed = opts.docker ? dockerBed(runtime, policyArg, out) : await sandboxBed(runtime, sandboxPolicy.join(' + '), opts.output);
        if (!bed) return;
        const main = bed;
        const removeMain = (): Promise<void> => main.tearDown();
        parts.push(removeMain);
        out(`Sluice demo (${bed.describe}; leaf qdisc: ${runtime.features.leafQdiscs[0] ?? 'pfifo'})`);
        const { policy, compiled, site } = await bed.build(out);
        out(`${policy.host.name}: ${compiled.containers.length} containers, ${policy.host.capacity.download / 1e6} mbit/s each way`);
        const results = await runPhases(runtime, compiled, site, {
          judge: policyJudge(policy),
          phases: phasesFor(compiled.containers.map((c) => c.name)),
          directions: opts.direction === 'both' ? DEMO_DIRECTIONS : [opts.direction],
          phaseSeconds: Number(opts.phaseSeconds),
          warmupSeconds: Number(opts.warmupSeconds),
          out,
          live: process.stdout.isTTY === true && opts.output !== 'json',
        });
        const latency = await latencyOf(compiled, site, Number(opts.latencySeconds), out);
        if (opts.destinations && !opts.docker && opts.keep) out('\n(--keep: the destination-classes part is skipped; its sandbox routes the same remote peer)');
        if (opts.destinations && !opts.docker && !opts.keep) {
          // Its sandbox routes the demo's peer too: the first sandbox goes first.
          await remove(removeMain);
          const part = await destinationsPart(runtime, out);
          parts.push(part.tearDown);
          results.push(...(await runDestinationsPart(runtime, part.policy, { directions: opts.direction === 'both' ? DEMO_DIRECTIONS : [opts.direction], phaseSeconds: Number(opts.phaseSeconds), warmupSeconds: Number(opts.warmupSeconds), out, live: process.stdout.isTTY === true && opts.output !== 'json' })));
        }
        report(results, latency, opts.output, out);
        process.exitCode = results.every((r) => r.verdict.pass) ? EXIT.ok : EXIT.invalid;
      } catch (e) {
        process.exitCode = reportError(e, opts.output);
      } finally {
        await cleanup().catch((e: unknown) => {
          process.exitCode = reportError(e, opts.output);
        });
        if (runtime) await runtime.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

async function sandboxBed(runtime: Runtime, policyPath: string, format: OutputFormat): Promise<Bed | undefined> {
  const policy = await loadOrReport(runtime.container, format);
  if (!policy) return undefined;
  const lock = acquireHostLock({ netns: policy.host.netns, command: commandLine() });
  return {
    describe: `sandbox namespaces, ${policyPath}`,
    build: async (out) => {
      await teardownDemo(runtime, policy);
      const compiled = await buildSandbox(runtime, policy, out);
      return { policy, compiled, site: sandboxSite(compiled) };
    },
    tearDown: () => teardownDemo(runtime, policy).finally(() => lock.release()),
  };
}

/** The destination-classes part's policy, loaded and its host locked; tearDown removes its sandbox and both peers. */
async function destinationsPart(runtime: Runtime, out: (t: string) => void): Promise<{ policy: Policy; tearDown: () => Promise<void> }> {
  const loaded = await loadPolicyFromPaths([DESTINATIONS_POLICY]);
  if (!loaded.ok) throw new DemoPolicyError(DESTINATIONS_POLICY, loaded.issues.map(formatPolicyIssue));
  const policy = loaded.policy;
  const lock = acquireHostLock({ netns: policy.host.netns, command: commandLine() });
  out(`\nSluice demo, last part (sandbox namespaces, ${DESTINATIONS_POLICY})`);
  return { policy, tearDown: () => teardownSets(runtime, policy, DESTINATIONS_PEER).finally(() => lock.release()) };
}

function dockerBed(runtime: Runtime, policyPath: string | undefined, out: (t: string) => void): Bed {
  const demo = new DockerDemo(runtime, out, [policyPath ?? DOCKER_POLICY]);
  // The test bed's daemon (and so the shaped bridge) always lives in its own namespace.
  const lock: HostLock = acquireHostLock({ netns: TESTBED.netns, command: commandLine() });
  return { describe: 'Docker containers from docker-compose.test.yml', build: () => demo.bringUp(), tearDown: () => demo.tearDown().finally(() => lock.release()) };
}

/** The light priority-0 flow's RTT, idle and while the others saturate; undefined when skipped or no container is priority 0. */
async function latencyOf(compiled: CompiledPolicy, site: TrafficSite, seconds: number, out: (t: string) => void): Promise<LatencyReport | undefined> {
  const probe = probeContainer(compiled);
  if (!(seconds > 0) || probe === undefined) return undefined;
  out(`\n── latency: a light flow to ${probe} (priority 0), idle, then while the others saturate both directions`);
  return measureLatency(site, probe, { seconds, warmupSeconds: 1.5 });
}

function report(results: readonly PhaseResult[], latency: LatencyReport | undefined, format: OutputFormat, out: (t: string) => void): void {
  if (format === 'json') {
    printJson({ pass: results.every((r) => r.verdict.pass), phases: results.map((r) => ({ direction: r.direction, phase: r.phase.name, shows: r.phase.shows, ...r.verdict })), ...(latency ? { latency } : {}) });
    return;
  }
  out('\n══ Verdict per phase (each container within 5% of link capacity of the oracle; utilisation ≥ 95%)');
  for (const r of results) {
    out(`\n${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.direction} · ${r.phase.name}: ${r.phase.shows}`);
    out(formatVerdict(r.verdict).split('\n').map((l) => `  ${l}`).join('\n'));
  }
  const passed = results.filter((r) => r.verdict.pass).length;
  if (latency) out(`\n══ Latency\n${formatLatency(latency)}`);
  out(`\n${passed}/${results.length} phases within tolerance.`);
}
