// bench/groupRendering: how HTB renders a hierarchy of groups (issue #22, stage 0). The
// same sandbox, traffic and hierarchical oracle for three renderings of one policy of two
// groups (A guaranteed 40, B 20 Mbit/s of 100) and their members:
//   flat    – the members alone under the root, as if the groups did not exist;
//   inner   – one HTB tree: each group an inner class (rate = its guarantee, ceil = its
//             ceiling), its members leaf classes under it;
//   nested  – each group a leaf class of its parent's qdisc (prio = group priority,
//             quantum ∝ group guarantee among its siblings) whose leaf qdisc is an HTB of
//             its own holding the members, with its own u32 filters.
// Prints per phase and direction the largest error of a container against the
// hierarchical oracle (% of the link), utilisation, drops, and the CPU time the host
// spent in softirq and system while the phase ran. Run as root, under the kernel lock:
//   flock /run/sluice-dev.lock npx tsx bench/groupRendering.ts [--renderings flat,inner,nested] [--phase-seconds 5]

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Applier } from '../src/apply/applier';
import { MemoryOwnershipStore } from '../src/ports/ownership';
import { nativeProbe } from '../src/wiring/runtime';
import { buildSandbox, runPhases, sandboxSite, teardownDemo, type DemoDeps } from '../src/demo/run';
import { detectFeatures } from '../src/kernel/rtnl/features';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import { parsePolicyTexts } from '../src/policy/load';
import type { Policy } from '../src/policy/model';
import { allocateTree } from '../src/allocate/hierarchy';
import type { Judge } from '../src/measure/judge';
import { writtenTreeJudge } from '../src/measure/treeJudge';
import { htbClass, htbQdisc, quantumBase } from '../src/compile/htb';
import { makeHandle, majorOf, minorOf, type TcHandle } from '../src/tc/handle';
import { ETH_P_ALL, type ClassObject, type Direction, type FilterObject, type KernelState, type QdiscObject } from '../src/tc/model';
import { bitsPerSec } from '../src/units/units';
import type { Phase } from '../src/demo/scenario';
import { exitUnlessRunnable, optionValue, numberOption } from './args';

exitUnlessRunnable({
  name: 'groupRendering',
  usage: `bench/groupRendering: how HTB renders a hierarchy of groups (flat, inner classes, nested HTBs) against the hierarchical oracle (issue #22)
  flock /run/sluice-dev.lock npx tsx bench/groupRendering.ts [options]   (root; builds a sandbox and drives traffic: under the lock)
  --renderings A,B   which renderings (flat,inner,nested)
  --phase-seconds N  each phase (5)
  --help             this text`,
  valued: ['--renderings'],
  numbers: ['--phase-seconds'],
});

type Rendering = 'flat' | 'inner' | 'nested';

const renderings = optionValue('--renderings', 'flat,inner,nested').split(',') as Rendering[];
const phaseSeconds = numberOption('--phase-seconds', 5);
const TOLERANCE = { perContainerOfCapacity: 0.03, minUtilisation: 0.95 };
const LINK = 100e6;

interface GroupSpec {
  readonly id: string;
  readonly minor: number;
  readonly guarantee: number;
  readonly ceiling: number;
  readonly priority: number;
}
interface MemberSpec {
  readonly id: string;
  readonly group: string;
  readonly guarantee: number;
  readonly priority: number;
}
interface Config {
  readonly name: string;
  readonly groups: readonly GroupSpec[];
  readonly members: readonly MemberSpec[];
  readonly phases: readonly Phase[];
}

const M = 1e6;
const CONFIGS: readonly Config[] = [
  {
    name: 'shares',
    groups: [
      { id: 'A', minor: 0x100, guarantee: 40 * M, ceiling: LINK, priority: 4 },
      { id: 'B', minor: 0x200, guarantee: 20 * M, ceiling: LINK, priority: 4 },
    ],
    members: [
      { id: 'a1', group: 'A', guarantee: 10 * M, priority: 4 },
      { id: 'a2', group: 'A', guarantee: 10 * M, priority: 4 },
      { id: 'a3', group: 'A', guarantee: 10 * M, priority: 4 },
      { id: 'b1', group: 'B', guarantee: 10 * M, priority: 4 },
      { id: 'b2', group: 'B', guarantee: 10 * M, priority: 4 },
    ],
    phases: [
      { name: '3v1', shows: 'groups 2:1 whatever the number of members sending', active: ['a1', 'a2', 'a3', 'b1'] },
      { name: '1v1', shows: 'groups 2:1 with one member each', active: ['a1', 'b1'] },
      { name: '1v2', shows: 'groups 2:1, B with two members', active: ['a1', 'b1', 'b2'] },
    ],
  },
  {
    name: 'priorities',
    groups: [
      { id: 'A', minor: 0x100, guarantee: 40 * M, ceiling: 70 * M, priority: 2 },
      { id: 'B', minor: 0x200, guarantee: 20 * M, ceiling: LINK, priority: 4 },
    ],
    members: [
      { id: 'a1', group: 'A', guarantee: 10 * M, priority: 4 },
      { id: 'a2', group: 'A', guarantee: 10 * M, priority: 6 },
      { id: 'a3', group: 'A', guarantee: 10 * M, priority: 4 },
      { id: 'b1', group: 'B', guarantee: 10 * M, priority: 0 },
      { id: 'b2', group: 'B', guarantee: 10 * M, priority: 0 },
    ],
    phases: [
      { name: 'group-prio', shows: "the group's priority orders borrowing, not its members'", active: ['a2', 'b1'] },
      { name: 'member-prio', shows: 'inside a group, member priority first', active: ['a1', 'a2', 'b1'] },
      { name: 'ceiling', shows: "the group's ceiling caps its members together", active: ['a1', 'a2', 'a3'] },
    ],
  },
];

function policyOf(config: Config): Policy {
  const host = `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: gr-bench }
spec:
  netns: sl-gr-host
  bridge: sl-gr-br0
  ifb: sl-gr-ifb0
  subnet: 198.18.0.0/24
  capacity: { download: 100mbit, upload: 100mbit }
`;
  const docs = config.members.map((m, i) => {
    const dir = `{ guarantee: ${m.guarantee / 1000}kbit, priority: ${m.priority} }`;
    return `apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${m.id} }
spec:
  match: { managed: sl-gr-${m.id} }
  address: 198.18.0.${10 + i}
  download: ${dir}
  upload: ${dir}
`;
  });
  const r = parsePolicyTexts([{ path: 'group-rendering.yaml', text: [host, ...docs].join('---\n') }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

/** The tc objects of one rendering, from the flat compile of the members. */
function render(rendering: Rendering, config: Config, policy: Policy): (s: KernelState) => KernelState {
  if (rendering === 'flat') return (s) => s;
  const devices = new Set([policy.host.bridge, policy.host.ifb]);
  return (s) => {
    const onTree = (o: { dev: string; parent: TcHandle }) => devices.has(o.dev) && majorOf(o.parent) !== 0xffff;
    // Each member's class in the flat compile, by container name (the filters say which address is whose).
    const memberClass = new Map<string, TcHandle>();
    const ipOf = new Map(policy.containers.map((c) => [c.name, c.address!]));
    const classByIp = new Map<number, TcHandle>();
    for (const f of s.filters) if (f.dev === policy.host.bridge && f.spec.kind === 'u32' && f.spec.classid !== undefined && f.spec.keys.length === 1) classByIp.set(f.spec.keys[0]!.value >>> 0, f.spec.classid);
    for (const m of config.members) memberClass.set(m.id, classByIp.get(ipToInt(ipOf.get(m.id)!))!);
    const qdiscs: QdiscObject[] = s.qdiscs.filter((q) => !onTree(q));
    const classes: ClassObject[] = [];
    const filters: FilterObject[] = s.filters.filter((f) => !onTree(f));
    for (const dev of devices) {
      const direction: Direction = dev === policy.host.bridge ? 'download' : 'upload';
      const netns = policy.host.netns;
      const keep = (o: { dev: string }) => o.dev === dev;
      const rootClass = makeHandle(1, 1);
      qdiscs.push(...s.qdiscs.filter((q) => keep(q) && onTree(q) && (q.parent === 0xffffffff || minorOf(q.parent) === 2)));
      classes.push(...s.classes.filter((c) => keep(c) && (minorOf(c.classid) === 1 || minorOf(c.classid) === 2) && majorOf(c.classid) === 1));
      const groupBase = quantumBase(config.groups.map((g) => g.guarantee), bitsPerSec(LINK));
      for (const g of config.groups) {
        const members = config.members.filter((m) => m.group === g.id);
        const memberBase = quantumBase(members.map((m) => m.guarantee), bitsPerSec(LINK));
        const groupClass = makeHandle(1, g.minor);
        classes.push({ type: 'class', netns, dev, classid: groupClass, parent: rootClass, spec: htbClass({ rate: bitsPerSec(g.guarantee), ceil: bitsPerSec(g.ceiling), prio: g.priority }, groupBase) });
        if (rendering === 'inner') {
          for (const m of members) {
            const classid = memberClass.get(m.id)!;
            classes.push({ type: 'class', netns, dev, classid, parent: groupClass, spec: htbClass({ rate: bitsPerSec(m.guarantee), ceil: bitsPerSec(LINK), prio: m.priority }, memberBase) });
            qdiscs.push(...s.qdiscs.filter((q) => keep(q) && q.parent === classid));
          }
          continue;
        }
        // nested: the group's own HTB as its leaf qdisc, members under its root class G:1.
        const major = g.minor;
        qdiscs.push({ type: 'qdisc', netns, dev, handle: makeHandle(major, 0), parent: groupClass, spec: htbQdisc(2) });
        const nestedRoot = makeHandle(major, 1);
        // At the link: the group's class in the root enforces its ceiling, once.
        classes.push({ type: 'class', netns, dev, classid: nestedRoot, parent: makeHandle(major, 0), spec: htbClass({ rate: bitsPerSec(LINK), ceil: bitsPerSec(LINK), prio: 0 }, quantumBase([], bitsPerSec(LINK))) });
        members.forEach((m, i) => {
          const minor = minorOf(memberClass.get(m.id)!);
          const classid = makeHandle(major, minor);
          classes.push({ type: 'class', netns, dev, classid, parent: nestedRoot, spec: htbClass({ rate: bitsPerSec(m.guarantee), ceil: bitsPerSec(LINK), prio: m.priority }, memberBase) });
          qdiscs.push({ type: 'qdisc', netns, dev, handle: makeHandle(minor, 0), parent: classid, spec: { kind: 'pfifo', limitPackets: 1000 } });
          const offset = direction === 'download' ? 16 : 12;
          filters.push({ type: 'filter', netns, dev, parent: makeHandle(major, 0), prio: 10, protocol: ETH_P_ALL, handle: (0x800 << 20) | (i + 1), spec: { kind: 'u32', keys: [{ value: 0x40000000, mask: 0xf0000000, off: 0 }, { value: ipToInt(ipOf.get(m.id)!), mask: 0xffffffff, off: offset }], classid } });
        });
      }
      // The root's filters: inner keeps the members' classes; nested sends each to its group's.
      const groupOfClass = new Map(config.members.map((m) => [memberClass.get(m.id)! >>> 0, makeHandle(1, config.groups.find((g) => g.id === m.group)!.minor)]));
      for (const f of s.filters.filter((f) => keep(f) && onTree(f))) {
        if (rendering === 'nested' && f.spec.kind === 'u32' && f.spec.classid !== undefined) filters.push({ ...f, spec: { ...f.spec, classid: groupOfClass.get(f.spec.classid >>> 0)! } });
        else filters.push(f);
      }
    }
    return { ...s, qdiscs, classes, filters };
  };
}

const ipToInt = (ip: string): number => ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;

/** The config as written (its groups and members), judged by the hierarchical oracle. */
function judgeOf(config: Config): Judge {
  const link = bitsPerSec(LINK);
  const both = <T>(d: T): { download: T; upload: T } => ({ download: d, upload: d });
  return writtenTreeJudge(
    {
      capacity: both(link),
      groups: config.groups.map((g) => ({ name: g.id, ...both({ guarantee: bitsPerSec(g.guarantee), ceiling: bitsPerSec(g.ceiling), priority: g.priority }) })),
      containers: config.members.map((m) => ({ name: m.id, group: m.group, ...both({ guarantee: bitsPerSec(m.guarantee), ceiling: link, priority: m.priority }) })),
    },
    allocateTree,
  );
}

/** softirq + system jiffies of all CPUs (/proc/stat), and the clock tick. */
function cpuJiffies(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return cpu[2]! + cpu[5]! + cpu[6]!;
}

function nonWorkConservingWarnings(): number {
  try {
    return execFileSync('dmesg', [], { encoding: 'utf8' }).split('\n').filter((l) => /non-work-conserving|isn't work conserving/.test(l)).length;
  } catch {
    return -1;
  }
}

async function main(): Promise<void> {
  const kernel = new RtnlKernel();
  const deps: DemoDeps = { kernel, applier: new Applier(kernel, new MemoryOwnershipStore(), nativeProbe, await detectFeatures()) };
  const warningsBefore = nonWorkConservingWarnings();
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}; phase ${phaseSeconds} s (first 1.5 s skipped); error = largest |measured − ideal| of a container, % of the link`);
  console.log('config      rendering dir       phase        error  worst  util   cpu(sys+irq)  verdict');
  try {
    for (const config of CONFIGS) {
      const policy = policyOf(config);
      for (const rendering of renderings) {
        try {
          const compiled = await buildSandbox(deps, policy, () => undefined, { adjust: render(rendering, config, policy) });
          for (const direction of ['download', 'upload'] as const) {
            for (const phase of config.phases) {
              const before = cpuJiffies();
              const t0 = performance.now();
              const [r] = await runPhases(deps, compiled, sandboxSite(compiled), { judge: judgeOf(config), phases: [phase], directions: [direction], phaseSeconds, warmupSeconds: 1.5, out: () => undefined, live: false, tolerance: TOLERANCE });
              const cpu = ((cpuJiffies() - before) / 100 / ((performance.now() - t0) / 1000)) * 100;
              const worst = [...r!.verdict.containers].sort((a, b) => b.errorOfCapacity - a.errorOfCapacity)[0]!;
              console.log(
                `${config.name.padEnd(11)} ${rendering.padEnd(9)} ${direction.padEnd(9)} ${phase.name.padEnd(12)} ${(worst.errorOfCapacity * 100).toFixed(1).padStart(5)}% ${worst.id.padEnd(5)} ${(r!.verdict.utilisationOfIdeal * 100).toFixed(1).padStart(5)}% ${cpu.toFixed(0).padStart(5)}% of a CPU  ${r!.verdict.pass ? 'PASS' : 'FAIL'}  ` +
                  r!.verdict.containers.map((c) => `${c.id} ${(c.measured / 1e6).toFixed(1)}/${(c.ideal / 1e6).toFixed(1)}`).join(' '),
              );
            }
          }
        } finally {
          await teardownDemo(deps, policy).catch((e: Error) => console.error(`teardown: ${e.message}`));
        }
      }
    }
  } finally {
    await kernel.close();
  }
  console.log(`"non-work-conserving" kernel warnings during the run: ${nonWorkConservingWarnings() - warningsBefore}`);
}

void main().catch((e: Error) => {
  console.error(e);
  process.exitCode = 1;
});
