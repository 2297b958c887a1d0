// Pods in groups, through bridge + host-local + sluice as a runtime chains them: the Host's
// `cni: { groupBy: namespace }` puts the pods of namespace shop in the Group shop (its
// aggregate guaranteed 60mbit and capped at 70mbit of the 100mbit link), while the pod of
// namespace batch, which has no Group, stays under the link. Real TCP each way, judged by
// the hierarchical oracle fed with what this test wrote (the Group, the annotations, the
// namespaces), never with what serve compiled. A flat allocation would give the lone shop
// pod 50 (its own 10mbit guarantee beside batch's 10); the group gives it 70.
// Budget: ~35 s (4 pods' ADDs, two phases per direction of 4 s).
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runPhases } from '../../src/demo/run';
import { formatVerdict, ISSUE_TOLERANCE } from '../../src/measure/verdict';
import { CNI_CAPACITY, CNI_GATEWAY, CNI_HOST_NETNS, cniTestbed, servePods, type PodSpec } from '../support/cni';
import { describeKernel } from '../support/kernel';
import { treeJudgeOf, writtenFromMaps, writtenRate, writtenTreeFromYaml } from '../support/written';

const guarantee = (g: string): Record<string, string> => ({ 'sluice.dev/download-guarantee': g, 'sluice.dev/upload-guarantee': g });

const PODS: readonly PodSpec[] = [
  { name: 'a', namespace: 'shop', annotations: guarantee('10mbit') },
  { name: 'b', namespace: 'shop', annotations: guarantee('10mbit') },
  { name: 'x', namespace: 'batch', annotations: guarantee('10mbit') },
];

const GROUP = `apiVersion: sluice.dev/v1
kind: Group
metadata: { name: shop }
spec:
  download: { guarantee: 60mbit, ceiling: 70mbit }
  upload: { guarantee: 60mbit, ceiling: 70mbit }
`;

describeKernel('cni pods grouped by namespace', [], () => {
  const bed = cniTestbed(async ({ rig }) => {
    for (const p of PODS) await rig.del(p).catch(() => undefined);
  });
  const { rig } = bed;

  it("a namespace's pods share its Group's guarantee and ceiling; a namespace without one stays under the link: both directions", async () => {
    const hostFile = join(rig.policyDir, 'host.yaml');
    writeFileSync(hostFile, readFileSync(hostFile, 'utf8').replace(/cni: \{ ([^}]*) \}/, 'cni: { $1, groupBy: namespace }'));
    writeFileSync(join(rig.policyDir, 'groups.yaml'), GROUP);
    const { compiled } = await servePods(bed, PODS);
    expect(Object.fromEntries(compiled.containers.map((c) => [c.workload!.name, c.group]))).toEqual({ 'shop/a': 'shop', 'shop/b': 'shop', 'batch/x': undefined });
    const nameOf = new Map(compiled.containers.map((c) => [c.workload!.name.split('/')[1]!, c.name]));
    const site = { peerNetns: CNI_HOST_NETNS, peerAddress: CNI_GATEWAY, containers: compiled.containers.map((c) => ({ name: c.name, netns: c.workload!.netns!, address: c.address! })) };
    // What this test wrote: the Host and the Group as text, the annotations, each pod's namespace as its group where the Group exists.
    const tree = writtenTreeFromYaml(`${readFileSync(hostFile, 'utf8')}---\n${GROUP}`);
    const pods = writtenFromMaps(writtenRate(CNI_CAPACITY), PODS.map((p) => ({ name: nameOf.get(p.name)!, entries: p.annotations ?? {} })), (dir, field) => `sluice.dev/${dir}-${field}`);
    const groups = new Set(tree.groups.map((g) => g.name));
    const judge = treeJudgeOf({ ...tree, containers: pods.containers.map((c, i) => (groups.has(PODS[i]!.namespace!) ? { ...c, group: PODS[i]!.namespace! } : c)) });
    const phases = [
      { name: 'capped', shows: "the group's pods together reach its ceiling (70), batch the rest", active: ['a', 'b', 'x'].map((n) => nameOf.get(n)!) },
      { name: 'aggregate', shows: "a lone pod of the group gets the group's share, not its own guarantee's", active: ['a', 'x'].map((n) => nameOf.get(n)!) },
    ];
    const results = await runPhases({ kernel: bed.kernel, applier: bed.applier }, compiled, site, { judge, tolerance: ISSUE_TOLERANCE, phases, directions: ['download', 'upload'], phaseSeconds: 4, warmupSeconds: 1.5, out: () => undefined, live: false });
    for (const r of results) console.log(`${r.verdict.pass ? 'PASS' : 'FAIL'} cni groups ${r.direction} ${r.phase.name}\n${formatVerdict(r.verdict)}`);
    expect(results.map((r) => `${r.direction}:${r.phase.name}:${r.verdict.pass}`)).toEqual(['download', 'upload'].flatMap((d) => phases.map((p) => `${d}:${p.name}:true`)));
    // The judge's expectation, in numbers: the lone shop pod gets 70 of the group, not a flat 50.
    const lone = results.find((r) => r.phase.name === 'aggregate')!.verdict.containers.find((c) => c.id === nameOf.get('a'))!;
    expect(lone.ideal).toBeCloseTo(70e6, -5);
  }, 180_000);
});
