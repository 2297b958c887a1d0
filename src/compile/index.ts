// Policy → desired kernel state. Pure: the same policy, features and observed state
// always give the same objects, so a converged kernel diffs to an empty plan.

import type { Policy } from '../policy/model';
import type { CgroupClassidObject, KernelState } from '../tc/model';
import { BASELINE_FEATURES, type KernelFeatures } from '../tc/features';
import type { CompiledPolicy } from './model';
import { sharedTrees, perDeviceTrees } from './assemble';
import { describe, describeGroups } from './describe';
import { observedInputs, sameInputs } from './observed';
import { shapeTree } from '../shape/build';
import type { AssignedBefore } from '../shape/model';
import { parseSubnet } from '../net/ipv4';
import { containersPlumbing, prefix6Of } from './topology';

export { policyFootprint, type PolicyFootprint } from './footprint';
export type { CompiledPolicy, CompiledContainer, CompiledClassRef, CompiledGroup, CompiledPeerSet } from './model';
export type { KernelFeatures } from '../tc/features';

export interface CompileOptions {
  /**
   * What the kernel holds now: keeps assigned addresses and class ids stable. Its
   * revision, if any (ObservedState), lets the memo skip comparing an unchanged one.
   */
  readonly observed?: KernelState & { readonly revision?: string };
  readonly features?: KernelFeatures;
}

export function compilePolicy(policy: Policy, options: CompileOptions = {}): CompiledPolicy {
  const features = options.features ?? BASELINE_FEATURES;
  return compileWith(policy, features, observedInputs(policy, options.observed));
}

/**
 * compilePolicy that remembers its last result and returns it (the same, read-only
 * object) while the policy objects, the features and what the compile reads from the
 * kernel are unchanged: the reconciler compiles the unchanged policy every tick, and the
 * observed state only matters to it when the kernel drifted. One per applier.
 */
export class CompileMemo {
  private last: { readonly policy: Policy; readonly features: KernelFeatures; readonly inputs: AssignedBefore; readonly revision: string | undefined; readonly result: CompiledPolicy } | undefined;

  compile(policy: Policy, options: CompileOptions = {}): CompiledPolicy {
    const features = options.features ?? BASELINE_FEATURES;
    const revision = options.observed?.revision;
    const last = this.last;
    const samePolicy = last !== undefined && last.features === features && last.policy.host === policy.host && last.policy.containers === policy.containers && last.policy.groups === policy.groups;
    // An observation with the last one's revision holds the same objects: no need to look.
    if (samePolicy && revision !== undefined && last.revision === revision) return last.result;
    const inputs = observedInputs(policy, options.observed);
    if (samePolicy && sameInputs(last.inputs, inputs)) {
      this.last = { ...last, revision };
      return last.result;
    }
    const result = compileWith(policy, features, inputs);
    this.last = { policy, features, inputs, revision, result };
    return result;
  }
}

function compileWith(policy: Policy, features: KernelFeatures, inputs: AssignedBefore): CompiledPolicy {
  const notes: string[] = [];
  const tree = shapeTree(policy, inputs, notes);
  const nodes = tree.containers;
  // "/<prefix>" of every container address, made once: one concatenation per address.
  const prefix = `/${parseSubnet(policy.host.subnet).prefix}`;
  const prefix6 = policy.host.subnet6 ? prefix6Of(policy.host.subnet6) : '';
  const plumbing = containersPlumbing(policy.host, nodes, prefix, prefix6);
  const rendered = policy.host.mode === 'shared' ? sharedTrees(tree, features) : perDeviceTrees(tree, features);
  const tc = rendered.tc;
  const classids = rendered.containerClass;
  const cgroups: CgroupClassidObject[] = [];
  nodes.forEach((p, i) => {
    if (p.policy.match.kind === 'cgroup') cgroups.push({ type: 'cgroup-classid', cgroup: p.policy.match.path, classid: classids[i]! });
  });
  if (cgroups.length > 0) notes.push('cgroup-matched workloads: packets their sockets send through the bridge or the IFB are classified by net_cls classid (BPF), ahead of the address filters');
  const containers = nodes.map((p, i) => describe(policy.host, p, classids[i]!));
  const compiled = {
    state: {
      namespaces: plumbing.namespaces,
      links: plumbing.links,
      addresses: plumbing.addresses,
      routes: plumbing.routes,
      sysctls: plumbing.sysctls,
      qdiscs: tc.qdiscs,
      classes: tc.classes,
      filters: tc.filters,
      cgroups,
    },
    containers,
    groups: describeGroups(tree, rendered.groupClass),
    notes,
  };
  return rendered.peerSets ? { ...compiled, peerSets: rendered.peerSets } : compiled;
}
