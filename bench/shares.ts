// bench/shares: how close the demo's phases come to the oracle at a given link speed,
// for Sluice's HTB parameters and (A/B, same run) the rule before issue #16 (quanta
// 200000·rate/link clamped to 1000..200000 bytes, burst and cburst 1 ms, at least
// 3200 bytes), with the peer's and containers' GSO at the kernel's 64 KiB (as Sluice
// leaves them since issue #25) or capped at 16 KiB (as it made them before). The demo
// policy is scaled to the link (every rate × link/100 Mbit/s). Prints, per phase and direction, the largest error of a container (% of the
// link) and the utilisation; a phase passes within 3% of the link and 95% utilisation.
// Run as root: npx tsx bench/shares.ts [--links 100,1000] [--rules new,old]
//   [--gso capped,kernel-default] [--flows n] [--phase-seconds s]

import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps } from '../src/demo/run';
import { CAPPED_GSO_MAX_SIZE } from '../src/demo/peer';
import { DEMO_PHASES } from '../src/demo/scenario';
import { policyJudge } from '../src/demo/written';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
import type { KernelState, LinkObject } from '../src/tc/model';
import { bytes } from '../src/units/units';
import { readFileSync } from 'node:fs';
import { exitUnlessRunnable, optionValue, numberOption } from './args';

exitUnlessRunnable({
  name: 'shares',
  usage: `bench/shares: how close the demo's phases come to the oracle at a given link speed, for Sluice's HTB parameters and the rule before issue #16
  flock /run/sluice-dev.lock npx tsx bench/shares.ts [options]   (root; builds the demo sandbox and drives traffic: under the lock)
  --links A,B        link speeds in Mbit/s (100,1000)
  --rules A,B        new, old (new)
  --gso A,B          capped, kernel-default (kernel-default)
  --flows N          flows per busy container (1)
  --phase-seconds N  each phase (5)
  --help             this text`,
  valued: ['--links', '--rules', '--gso'],
  numbers: ['--flows', '--phase-seconds'],
});

type Rule = 'new' | 'old';
type Gso = 'capped' | 'kernel-default';

const links = optionValue('--links', '100,1000').split(',').map(Number);
const rules = optionValue('--rules', 'new').split(',') as Rule[];
const gsos = optionValue('--gso', 'kernel-default').split(',') as Gso[];
const flows = numberOption('--flows', 1);
const phaseSeconds = numberOption('--phase-seconds', 5);
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };

/** policies/demo.yaml with every rate scaled to a link of `linkMbit`, in namespaces sl-bs-…. */
function scaledDemo(linkMbit: number): Policy {
  const text = readFileSync('policies/demo.yaml', 'utf8')
    .replace(/(\d+)mbit/g, (_, n: string) => `${Math.round((Number(n) * linkMbit) / 100)}mbit`)
    .replace(/name: demo\b/, 'name: bs-demo')
    .replace(/\bsl-(host|web|api|batch|backup)\b/g, 'sl-bs-$1');
  const r = parsePolicyTexts([{ path: 'demo.yaml', text }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

/** The HTB parameters before issue #16, for the A/B. */
function oldRule(linkBits: number) {
  return (s: KernelState): KernelState => ({
    ...s,
    classes: s.classes.map((c) => {
      if (c.spec.kind !== 'htb') return c;
      const { rate, ceil } = c.spec;
      const quantum = Math.min(200_000, Math.max(1000, Math.round((200_000 * Math.max(rate, 8000)) / Math.max(linkBits, 8000))));
      const oneMs = (r: number): number => Math.max(3200, Math.ceil(r / 8 / 1000));
      return { ...c, spec: { ...c.spec, quantum: bytes(quantum), burst: bytes(oneMs(rate)), cburst: bytes(oneMs(ceil)) } };
    }),
  });
}

/** Sluice's veths as they were before issue #25: GSO capped at 16 KiB. */
const capped = (l: LinkObject): LinkObject => (l.spec.kind === 'veth' ? { ...l, gsoMaxSize: CAPPED_GSO_MAX_SIZE } : l);

function variantOf(rule: Rule, gso: Gso, linkBits: number): (s: KernelState) => KernelState {
  const rules = rule === 'old' ? oldRule(linkBits) : (s: KernelState) => s;
  return gso === 'capped' ? (s) => ({ ...rules(s), links: s.links.map(capped) }) : rules;
}

async function main(): Promise<void> {
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  console.log(`phase ${phaseSeconds} s (first 1.5 s skipped), ${flows} flow(s) per container; error = largest |measured − ideal| of a container, % of the link`);
  console.log('link        rule  gso             dir       phase     error  util    verdict');
  try {
    for (const linkMbit of links) {
      for (const gso of gsos) {
        for (const rule of rules) {
          const policy = scaledDemo(linkMbit);
          try {
            const compiled = await buildSandbox(deps, policy, () => undefined, { adjust: variantOf(rule, gso, linkMbit * 1e6), peerGso: gso });
            const site = sandboxSite(compiled);
            const results = await runPhases(deps, compiled, { ...site, containers: site.containers.map((c) => ({ ...c, flows })) }, {
              judge: policyJudge(policy),
              phases: DEMO_PHASES,
              directions: ['download', 'upload'],
              phaseSeconds,
              warmupSeconds: 1.5,
              out: () => undefined,
              live: false,
              tolerance: TOLERANCE,
            });
            for (const r of results) {
              const worst = Math.max(...r.verdict.containers.map((c) => c.errorOfCapacity));
              console.log(
                `${`${linkMbit} Mbit/s`.padEnd(12)}${rule.padEnd(6)}${gso.padEnd(16)}${r.direction.padEnd(10)}${r.phase.name.padEnd(10)}` +
                  `${(worst * 100).toFixed(1).padStart(4)}%  ${(r.verdict.utilisationOfIdeal * 100).toFixed(1).padStart(5)}%  ${r.verdict.pass ? 'pass' : 'FAIL'}`,
              );
            }
          } finally {
            await teardownDemo(deps, policy).catch(() => undefined);
          }
        }
      }
    }
  } finally {
    await kernel.close();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
