// The ownership record as sets (pure): what it says Sluice created, the record to write
// ahead of a plan's creates, and the record once a plan has been carried out.

import type { OwnershipRecord } from '../ports/ownership';
import { type ExternalDevice, type KernelObject, type NetnsLocator } from '../tc/model';
import { deviceKey, namespaceKey, objectKey } from '../tc/identity';
import type { RecordedOwnership } from './ownership';

/** Where a record's object keys are grouped: the object's namespace, "" for what has none. */
const groupOf = (o: KernelObject): NetnsLocator => (o.type === 'namespace' || o.type === 'cgroup-classid' ? '' : o.netns);
const fullKey = (group: NetnsLocator, suffix: string): string => (group === '' ? suffix : `${group}/${suffix}`);

const derived = new WeakMap<OwnershipRecord, RecordedOwnership>();

/** What a record says Sluice created (made once per record object: a store returns the same one while unchanged). */
export function recordedOwnership(record: OwnershipRecord | undefined): RecordedOwnership | undefined {
  if (!record) return undefined;
  let known = derived.get(record);
  if (!known) {
    const keys = record.objects ? new Set(Object.entries(record.objects).flatMap(([group, suffixes]) => suffixes.map((s) => fullKey(group, s)))) : undefined;
    known = { namespaces: record.namespaces, ...(keys ? { keys } : { legacyLinks: record.links ?? [] }) };
    derived.set(record, known);
  }
  return known;
}

export interface RecordBase {
  readonly host: string;
  readonly hostNetns: NetnsLocator;
  readonly external: readonly ExternalDevice[];
  /** Namespaces never remembered (a Docker container's /proc/<pid>/ns/net: the pid may be reused). */
  readonly transient: ReadonlySet<NetnsLocator>;
}

type Groups = Map<NetnsLocator, Set<string>>;

function groupsOf(record: OwnershipRecord | undefined): Groups {
  return new Map(Object.entries(record?.objects ?? {}).map(([g, s]) => [g, new Set(s)]));
}

function build(base: RecordBase, namespaces: Iterable<string>, groups: Groups, previous: OwnershipRecord | undefined): OwnershipRecord {
  const objects: Record<NetnsLocator, string[]> = {};
  for (const [g, s] of groups) if (s.size > 0) objects[g] = [...s];
  const external = unionDevices(base.external.filter((d) => !base.transient.has(d.netns)), previous?.external ?? []);
  const scope = new Set([base.hostNetns, ...(previous?.scope ?? []), ...Object.keys(objects).filter((g) => g !== '')]);
  const ns = [...new Set(namespaces)];
  return {
    host: base.host,
    hostNetns: base.hostNetns,
    namespaces: ns,
    scope: [...new Set([...scope, ...ns])].filter((s) => !base.transient.has(s) && !s.startsWith('/proc/')),
    ...(external.length > 0 ? { external } : {}),
    objects,
  };
}

function unionDevices(a: readonly ExternalDevice[], b: readonly ExternalDevice[]): ExternalDevice[] {
  return [...new Map([...a, ...b].map((d) => [deviceKey(d.netns, d.dev), d])).values()];
}

/**
 * The record to write before sending a plan: the previous one plus every object the
 * plan creates (and, for a format-1 record, what it owned, now by key). The previous
 * record itself when it already says all that.
 */
export function recordAhead(previous: OwnershipRecord | undefined, base: RecordBase, created: readonly KernelObject[], owned: readonly KernelObject[] = []): OwnershipRecord {
  const known = recordedOwnership(previous);
  const fresh = [...created, ...(previous?.objects ? [] : owned)].filter((o) => !isRecorded(known, o));
  if (previous?.objects && fresh.length === 0) return previous;
  const namespaces = new Set(previous?.namespaces ?? []);
  const groups = groupsOf(previous);
  for (const o of fresh) add(o, namespaces, groups);
  return build(base, namespaces, groups, previous);
}

function isRecorded(known: RecordedOwnership | undefined, o: KernelObject): boolean {
  if (o.type === 'namespace') return known?.namespaces.includes(o.name) === true;
  return known?.keys?.has(objectKey(o)) === true;
}

function add(o: KernelObject, namespaces: Set<string>, groups: Groups): void {
  if (o.type === 'namespace') {
    namespaces.add(o.name);
    return;
  }
  const group = groupOf(o);
  const key = objectKey(o);
  let set = groups.get(group);
  if (!set) groups.set(group, (set = new Set()));
  set.add(group === '' ? key : key.slice(group.length + 1));
}

/**
 * The record after a plan was carried out in full: what it recorded that is still
 * wanted (`keep`: the desired objects and the pinned ones); everything else is gone.
 * The same record when nothing left it.
 */
export function recordSettled(record: OwnershipRecord, base: RecordBase, keep: ReadonlySet<string>): OwnershipRecord {
  const namespaces = record.namespaces.filter((n) => keep.has(namespaceKey(n)));
  let dropped = namespaces.length !== record.namespaces.length;
  const groups: Groups = new Map();
  for (const [group, suffixes] of Object.entries(record.objects ?? {})) {
    const kept = new Set(suffixes.filter((s) => keep.has(fullKey(group, s))));
    if (kept.size !== suffixes.length) dropped = true;
    groups.set(group, kept);
  }
  return dropped ? build(base, namespaces, groups, undefined) : record;
}

/** Whether a record owns nothing at all (destroy may then remove it). */
export const isEmptyRecord = (r: OwnershipRecord): boolean => r.namespaces.length === 0 && Object.values(r.objects ?? {}).every((s) => s.length === 0);
