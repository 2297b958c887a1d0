import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/compile';
import { diff } from '../../src/plan/diff';
import { appliedIndex, growthPlan } from '../../src/plan/growth';
import type { Policy } from '../../src/policy/model';
import { majorOf, makeHandle, minorOf } from '../../src/tc/handle';
import { bitsPerSec } from '../../src/units/units';
import type { KernelState } from '../../src/tc/model';
import { demoPolicy, demoWithTenantsPolicy } from '../support/policy';
import { drawFromSeed, parseDraw, seededRandom } from '../support/randomPolicy';
import { drawTree, parseTreeDraw } from '../support/randomTree';

interface Pair {
  readonly desired: KernelState;
  readonly applied: KernelState;
}
/** An edit of the desired state (of both, where it says so). */
type Edit = (s: KernelState, r: () => number, applied: KernelState) => KernelState | Pair;
const isPair = (x: KernelState | Pair): x is Pair => 'desired' in x;

const pick = <T>(r: () => number, items: readonly T[]): T | undefined => items[Math.floor(r() * items.length)];

/** Edits of the desired state that a real change can make, and some that it cannot (a repeated object). */
const EDITS: Readonly<Record<string, Edit>> = {
  none: (s) => s,
  'a class rate changed': (s, r) => {
    const c = pick(r, s.classes);
    return c === undefined ? s : { ...s, classes: s.classes.map((x) => (x === c && x.spec.kind === 'htb' ? { ...x, spec: { ...x.spec, rate: bitsPerSec(x.spec.rate + 8000) } } : x)) };
  },
  'a class raised out of debt': (s, r, applied) => {
    // Applied at 8 kbit/s, where a largest packet can leave it in debt (compare.ts).
    const c = pick(r, applied.classes.filter((x) => x.spec.inner !== true));
    if (c === undefined) return s;
    return { desired: s, applied: { ...applied, classes: applied.classes.map((x) => (x === c ? { ...x, spec: { ...x.spec, rate: bitsPerSec(8000) } } : x)) } };
  },
  'a qdisc replaced': (s, r) => {
    const q = pick(r, s.qdiscs);
    return { ...s, qdiscs: s.qdiscs.map((x) => (x === q ? { ...x, handle: makeHandle(0x77, 0) } : x)) };
  },
  'a class moved (replaced)': (s, r) => {
    const c = pick(r, s.classes);
    return { ...s, classes: s.classes.map((x) => (x === c ? { ...x, parent: makeHandle(majorOf(x.parent), minorOf(x.parent) + 1) } : x)) };
  },
  'a new filter repeated': (s, r) => {
    const f = pick(r, s.filters.slice(-3));
    return f === undefined ? s : { ...s, filters: [...s.filters, f] };
  },
  'a filter dropped': (s, r) => {
    const f = pick(r, s.filters);
    return { ...s, filters: s.filters.filter((x) => x !== f) };
  },
  'a link dropped': (s, r) => {
    const l = pick(r, s.links);
    return { ...s, links: s.links.filter((x) => x !== l) };
  },
  'a qdisc repeated': (s, r) => {
    const q = pick(r, s.qdiscs);
    return q === undefined ? s : { ...s, qdiscs: [...s.qdiscs, q] };
  },
  'a class repeated': (s, r) => {
    const c = pick(r, s.classes);
    return c === undefined ? s : { ...s, classes: [c, ...s.classes] };
  },
  'a link down': (s, r) => {
    const l = pick(r, s.links);
    return { ...s, links: s.links.map((x) => (x === l ? { ...x, up: !x.up } : x)) };
  },
};

/** The policy without its i-th container (the node before that pod's ADD), applied; then the whole policy compiled against it, edited. */
function change(policy: Policy, r: () => number, edit: Edit): { desired: KernelState; applied: KernelState } {
  const gone = pick(r, policy.containers)!;
  const applied = compilePolicy({ ...policy, containers: policy.containers.filter((c) => c !== gone) }).state;
  const edited = edit(compilePolicy(policy, { observed: applied }).state, r, applied);
  return isPair(edited) ? edited : { applied, desired: edited };
}

function randomPolicy(seed: number): Policy {
  const r = seededRandom(seed);
  if (seed % 2 === 0) return parseDraw(drawFromSeed(seed, seed), 'g');
  return parseTreeDraw(drawTree(r, seed, 100), 'g');
}

describe('growthPlan (the plan of a change that only adds and changes)', () => {
  it('is the general diff whenever it answers, and answers whenever that diff deletes nothing but what debt or repetition rule out', () => {
    let answered = 0;
    const policies = [demoPolicy(), demoWithTenantsPolicy(), ...Array.from({ length: 30 }, (_, i) => randomPolicy(i + 1))];
    policies.forEach((policy, p) => {
      for (const [name, edit] of Object.entries(EDITS)) {
        const r = seededRandom(1000 * p + name.length);
        const { desired, applied } = change(policy, r, edit);
        const general = diff(desired, applied);
        const grown = growthPlan(desired, applied);
        if (grown !== undefined) {
          answered++;
          expect(grown, `policy ${p}, ${name}`).toEqual(general);
        } else if (name === 'none' || name === 'a class rate changed' || name === 'a link down') {
          expect(general.some((op) => op.op === 'delete'), `policy ${p}, ${name}: left to the general diff`).toBe(true);
        }
      }
    });
    expect(answered).toBeGreaterThan(policies.length * 3);
  });

  it('the reverse (a pod removed) and an empty applied state are left to the general diff', () => {
    const policy = demoPolicy();
    const { desired, applied } = change(policy, seededRandom(7), EDITS['none']!);
    expect(growthPlan(applied, desired)).toBeUndefined();
    expect(growthPlan(desired, { ...applied, namespaces: [], links: [], addresses: [], routes: [], sysctls: [], qdiscs: [], classes: [], filters: [], cgroups: [] })).toBeUndefined();
  });

  it('the same state: an empty plan', () => {
    const state = compilePolicy(demoPolicy()).state;
    expect(growthPlan(state, state)).toEqual([]);
  });

  it("plans against an applied state's kept index as against one built afresh, change after change", () => {
    const policies = [demoWithTenantsPolicy(), ...Array.from({ length: 6 }, (_, i) => randomPolicy(i + 1))];
    policies.forEach((policy, p) => {
      // The node before its last pods' ADDs, then each ADD compiled against the state the one before it left, as serve chains them.
      const pods = Math.min(4, policy.containers.length - 1);
      let base = compilePolicy({ ...policy, containers: policy.containers.slice(0, policy.containers.length - pods) }).state;
      for (let k = pods - 1; k >= 0; k--) {
        const kept = appliedIndex(base);
        const same = compilePolicy({ ...policy, containers: policy.containers.slice(0, policy.containers.length - k - 1) }, { observed: base }).state;
        // Edited as a change may edit it (a class's rate, a link's state).
        const edit = EDITS[k % 2 === 0 ? 'a class rate changed' : 'a link down']!;
        const compiled = compilePolicy({ ...policy, containers: policy.containers.slice(0, policy.containers.length - k) }, { observed: base }).state;
        const edited = edit(compiled, seededRandom(p * 10 + k), base);
        const next = isPair(edited) ? edited.desired : edited;
        // A change that plans nothing first: its matching must not stay in the index.
        expect(growthPlan(same, base), `policy ${p}, ADD ${pods - k}: the same policy`).toEqual(diff(same, base));
        const reused = growthPlan(next, base);
        expect(appliedIndex(base)).toBe(kept);
        const fresh = growthPlan(next, { ...base });
        expect(reused, `policy ${p}, ADD ${pods - k}`).toEqual(fresh);
        expect(reused, `policy ${p}, ADD ${pods - k}`).toEqual(diff(next, base));
        base = next;
      }
    });
  });
});
