// The documents workloads bring for themselves (a pod's annotations) against the
// operator's files, before validation. Pure. Three rules:
//  - a file wins: a Container document whose match selects exactly one workload of a
//    source replaces that workload's own document, until the file changes again;
//  - a workload joins the group its source puts it in (a pod's namespace, cni.groupBy)
//    when the files define a Group of that name and its own document names none;
//  - a pod that does not fit waits: with `overcommit: reject`, workloads' documents are
//    admitted in their source's order while Σ guarantees stays within the link, and
//    within its group's stated guarantee, in both directions; the others are reported as
//    not shaped ('does-not-fit'), and the pods admitted before them keep their guarantees.
// Without these, one pod's annotations (claimed by a file, or one pod too many) would
// fail validation for the whole node and leave every later pod unshaped.

import { formatRate } from '../units/format';
import type { LocatedDocument } from '../policy/documents';
import type { ContainerDocument, HostDocument } from '../policy/schema';
import { writtenGuarantee } from '../policy/peers';
import { toMatch } from '../policy/validate';
import { DIRECTIONS, type Direction } from '../tc/model';
import { bitsPerSec } from '../units/units';
import { selects } from './resolve';
import type { ResolvedWorkload, SourceLabel, UnshapedWorkload, WorkloadDefault } from './source';

type HostSpec = HostDocument['spec'];

export interface SourceDefaults {
  readonly source: SourceLabel;
  readonly defaults: readonly WorkloadDefault[];
  readonly workloads: readonly ResolvedWorkload[];
}

type Owner = Pick<UnshapedWorkload, 'source' | 'workload'>;

export interface SettledDefaults {
  /** The workloads' documents that stand: not named by a file, and admitted. */
  readonly documents: readonly LocatedDocument[];
  /** Whose each standing document is (one joined to its source's group is a new document). */
  readonly owners: ReadonlyMap<LocatedDocument, Owner>;
  /** Workloads a file names instead of their own document ("shop/web" ← "policies/web.yaml"). */
  readonly overridden: readonly { readonly workload: string; readonly by: string }[];
  readonly unshaped: readonly UnshapedWorkload[];
}

/** `others`: every document that is not a workload's own (the files', Docker labels'). */
export function settleDefaults(others: readonly LocatedDocument[], host: HostSpec | undefined, sources: readonly SourceDefaults[]): SettledDefaults {
  const claims = fileClaims(others, sources);
  const documents: LocatedDocument[] = [];
  const owners = new Map<LocatedDocument, Owner>();
  const overridden: { workload: string; by: string }[] = [];
  const unshaped: UnshapedWorkload[] = [];
  const used = guarantees(others);
  const groups = groupBudgets(others);
  for (const s of sources) {
    const groupOf = new Map(s.workloads.flatMap((w) => (w.group !== undefined ? [[w.id, w.group] as const] : [])));
    for (const d of s.defaults) {
      const by = claims.get(`${s.source}:${d.workloadId}`);
      if (by) {
        overridden.push({ workload: d.workload, by });
        continue;
      }
      const document = joinedGroup(d.document, groupOf.get(d.workloadId), groups);
      const over = host ? overLink(host, used, document) ?? overGroup(host, groups, document) : undefined;
      if (over) {
        unshaped.push({ source: s.source, workload: d.workload, reason: 'does-not-fit', detail: over });
        continue;
      }
      add(used, document);
      addToGroup(groups, document);
      documents.push(document);
      owners.set(document, { source: s.source, workload: d.workload });
    }
  }
  return { documents, owners, overridden, unshaped };
}

/** A group's stated guarantees, its ceilings (its own or inherited), and what the admitted documents already take of its guarantees. */
interface GroupBudget {
  readonly stated: Partial<Sums>;
  readonly ceiling: Partial<Sums>;
  readonly used: Sums;
}

/** The files' groups, each charged with its file containers' and stated subgroups' guarantees. */
function groupBudgets(others: readonly LocatedDocument[]): Map<string, GroupBudget> {
  const budgets = new Map<string, GroupBudget>();
  const groupDocs = others.flatMap((d) => (d.value.kind === 'Group' ? [d.value] : []));
  const byName = new Map(groupDocs.map((g) => [g.metadata.name, g]));
  for (const g of groupDocs) {
    const stated: Partial<Sums> = {};
    const ceiling: Partial<Sums> = {};
    for (const dir of DIRECTIONS) {
      if (g.spec[dir].guarantee !== undefined) stated[dir] = g.spec[dir].guarantee;
      // The lowest ceiling up its chain of parents (a cycle, reported by validation, ends the walk).
      for (let up: typeof g | undefined = g, n = 0; up !== undefined && n <= groupDocs.length; up = up.spec.parent === undefined ? undefined : byName.get(up.spec.parent), n++) {
        const c = up.spec[dir].ceiling;
        if (c !== undefined && (ceiling[dir] === undefined || c < ceiling[dir])) ceiling[dir] = c;
      }
    }
    if (!budgets.has(g.metadata.name)) budgets.set(g.metadata.name, { stated, ceiling, used: { download: 0, upload: 0 } });
  }
  for (const g of groupDocs) charge(budgets, g.spec.parent, (dir) => g.spec[dir].guarantee ?? 0);
  for (const d of others) addToGroup(budgets, d);
  return budgets;
}

function charge(budgets: Map<string, GroupBudget>, group: string | undefined, amount: (dir: Direction) => number): void {
  const budget = group === undefined ? undefined : budgets.get(group);
  if (budget) for (const dir of DIRECTIONS) budget.used[dir] += amount(dir);
}

function addToGroup(budgets: Map<string, GroupBudget>, doc: LocatedDocument): void {
  if (doc.value.kind === 'Container') {
    const container = doc.value;
    charge(budgets, container.spec.group, (dir) => guaranteeOf(container, dir));
  }
}

/**
 * `doc` in its source's group, when it names none itself and the files define that group;
 * its ceilings held within the group's, as a file container's are (resolve.ts): the pod
 * did not ask for the group, so a kubelet ceiling above it is no error of the pod's.
 */
function joinedGroup(doc: LocatedDocument, group: string | undefined, groups: ReadonlyMap<string, GroupBudget>): LocatedDocument {
  const budget = group === undefined ? undefined : groups.get(group);
  if (budget === undefined || doc.value.kind !== 'Container' || doc.value.spec.group !== undefined) return doc;
  const spec = doc.value.spec;
  const within = (dir: Direction): typeof spec.download => {
    const cap = budget.ceiling[dir];
    const own = spec[dir].ceiling;
    return cap !== undefined && (own === undefined || own > cap) ? { ...spec[dir], ceiling: bitsPerSec(cap) } : spec[dir];
  };
  return { ...doc, value: { ...doc.value, spec: { ...spec, group, download: within('download'), upload: within('upload') } } };
}

/** Why `doc` does not fit in its group's stated guarantee beside what is admitted (overcommit: reject), or undefined. */
function overGroup(host: HostSpec, groups: ReadonlyMap<string, GroupBudget>, doc: LocatedDocument): string | undefined {
  if (host.overcommit === 'scale-by-priority' || doc.value.kind !== 'Container') return undefined;
  const container = doc.value;
  const group = container.spec.group;
  const budget = group === undefined ? undefined : groups.get(group);
  for (const dir of DIRECTIONS) {
    const stated = budget?.stated[dir];
    const g = guaranteeOf(container, dir);
    if (budget && stated !== undefined && budget.used[dir] + g > stated) {
      return `its ${dir} guarantee ${formatRate(bitsPerSec(g))} does not fit in group ${group}: its members already admitted are guaranteed ${formatRate(bitsPerSec(budget.used[dir]))} of the group's ${formatRate(bitsPerSec(stated))}; shaped once others leave, or lower it (or raise the group's guarantee)`;
    }
  }
  return undefined;
}

/** Workloads a file's Container document selects alone, keyed "<source>:<workload id>", with the document's file. */
function fileClaims(others: readonly LocatedDocument[], sources: readonly SourceDefaults[]): Map<string, string> {
  const claims = new Map<string, string>();
  for (const doc of others) {
    if (doc.value.kind !== 'Container') continue;
    const match = toMatch(doc.value.spec.match);
    if (match.kind !== 'workload') continue;
    const source = sources.find((s) => s.source === match.source);
    const selected = source?.workloads.filter((w) => selects(match, w)) ?? [];
    // Selecting several, the file's container waits (resolve.ts says why); their own documents stay.
    if (selected.length === 1) claims.set(`${match.source}:${selected[0]!.id}`, `${doc.file} (${doc.value.metadata.name})`);
  }
  return claims;
}

type Sums = Record<Direction, number>;

function guarantees(docs: readonly LocatedDocument[]): Sums {
  const sums: Sums = { download: 0, upload: 0 };
  for (const d of docs) add(sums, d);
  return sums;
}

function add(sums: Sums, doc: LocatedDocument): void {
  if (doc.value.kind !== 'Container') return;
  for (const dir of DIRECTIONS) sums[dir] += guaranteeOf(doc.value, dir);
}

const guaranteeOf = (doc: ContainerDocument, dir: Direction): number => writtenGuarantee(doc.spec[dir]);

/** Why `doc` does not fit beside what is admitted (overcommit: reject), or undefined. */
function overLink(host: HostSpec, used: Sums, doc: LocatedDocument): string | undefined {
  if (host.overcommit === 'scale-by-priority' || doc.value.kind !== 'Container') return undefined;
  const container = doc.value;
  for (const dir of DIRECTIONS) {
    const link = host.capacity[dir];
    const g = guaranteeOf(container, dir);
    if (used[dir] + g > link) {
      return `its ${dir} guarantee ${formatRate(bitsPerSec(g))} does not fit: the guarantees already admitted add up to ${formatRate(bitsPerSec(used[dir]))} of the link's ${formatRate(link)}; shaped once others leave, or lower it (or set overcommit: scale-by-priority)`;
    }
  }
  return undefined;
}
