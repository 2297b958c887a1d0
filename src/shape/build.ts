// The shaping tree of a policy in force: each container's place (its namespace and
// devices, its address, its slot), the groups above containers, and every node's
// guarantees as they will be enforced. Pure: the same policy and what is already
// assigned in the kernel always give the same tree.

import type { ContainerPolicy, GroupPolicy, HostPolicy, Policy } from '../policy/model';
import { DIRECTIONS, type Direction } from '../tc/model';
import { bitsPerSec, type BitsPerSec } from '../units/units';
import { allocate } from '../allocate/oracle';
import { embedIpv4, parseSubnet6 } from '../net/ipv6';
import { ipToInt } from '../net/ipv4';
import { formatRate } from '../units/format';
import { assignAddresses, assignSlotsInOrder, hostDevice } from './naming';
import { containerNetns, hasOwnNamespace } from './namespaces';
import type { AssignedBefore, ContainerNode, GroupNode, NodeRates, ShapeTree } from './model';

const MANAGED_CONTAINER_DEV = 'eth0';
/** In a namespace Sluice did not create, eth0 may already exist. */
const ATTACHED_CONTAINER_DEV = 'sl-eth0';

export function shapeTree(policy: Policy, before: AssignedBefore, notes: string[]): ShapeTree {
  const host = policy.host;
  const containers = policy.containers;
  const devNames = before.devNames;
  const needing: string[] = [];
  containers.forEach((c) => {
    if (!c.address && hasOwnNamespace(c)) needing.push(c.name);
  });
  // The addresses already taken matter only to containers that need one: usually none.
  const addresses = needing.length === 0 ? new Map<string, string>() : assignAddresses(host.subnet, needing, fixedAddresses(host, containers), before.addresses);
  for (const name of needing) if (!addresses.has(name)) notes.push(`no free address left in ${host.subnet} for ${name}`);
  const inForce = groupsInForce(policy.groups, containers);
  // Each container's IPv4 address parsed once, here: the renderer's classifiers and the slots found in the kernel read this.
  const address4 = containers.map((c) => {
    const address = (c.address ?? addresses.get(c.name)) || undefined;
    return address === undefined ? -1 : ipToInt(address);
  });
  const slots = assignSlotsInOrder(containers.map((c) => c.name), slotsBefore(policy, before, address4), inForce.map((g) => g.name));
  const levels = inForce.length === 0 ? undefined : levelGuarantees(host, inForce, containers, notes);
  const guarantees = levels === undefined ? flatGuarantees(policy, notes) : levels.containers;
  const groups = levels === undefined ? [] : groupNodes(inForce, slots.groups, levels.groups);
  const groupOf = groups.length === 0 ? undefined : new Map(groups.map((g) => [g.id, g]));
  const subnet6 = host.subnet6 ? parseSubnet6(host.subnet6) : undefined;
  // Plain literals with undefined for what does not apply: a conditional spread per
  // container costs microseconds each on Node 20 (docs/decisions.md, session 3).
  const nodes = containers.map((c, i): ContainerNode => {
    const own = hasOwnNamespace(c);
    // Without overcommit or groups (the usual case) no map by name: each container's own.
    const scaled = guarantees?.get(c.name);
    const address = (c.address ?? addresses.get(c.name)) || undefined;
    return {
      kind: 'container',
      policy: c,
      parent: groupOf !== undefined && c.group !== undefined ? groupOf.get(c.group) : undefined,
      slot: slots.names[i]!,
      managed: c.match.kind === 'managed',
      downloadGuarantee: scaled ? scaled.download : c.bandwidth.download.guarantee,
      uploadGuarantee: scaled ? scaled.upload : c.bandwidth.upload.guarantee,
      netns: own ? containerNetns(c) : undefined,
      hostDev: own ? hostDevice(devNames, c.name) : undefined,
      containerDev: own ? (c.match.kind === 'managed' ? MANAGED_CONTAINER_DEV : ATTACHED_CONTAINER_DEV) : undefined,
      address,
      address4: address4[i]!,
      address6: c.address6 ?? (subnet6 && address && c.match.kind === 'managed' ? embedIpv4(subnet6, address4[i]!) : undefined),
    };
  });
  return { host, groups, containers: nodes };
}

/**
 * The slot each node already has in the kernel, by id: a container's from its device
 * (per-device) or from the end of its address's path; a group's from the path of one of
 * its members, where the path is as deep as the groups above that member.
 */
function slotsBefore(policy: Policy, before: AssignedBefore, address4: readonly number[]): ReadonlyMap<string, number> {
  if (before.addressSlots.size === 0 && before.addressPaths.size === 0) return before.slots;
  const out = new Map(before.slots);
  const parents = policy.groups.length === 0 ? undefined : new Map(policy.groups.map((g) => [g.name, g.parent]));
  const containers = policy.containers;
  // Indexed: a re-apply reads 10,000 of them, mostly before V8 optimises this.
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    const ip = address4[i]!;
    if (ip < 0 || out.has(c.name)) continue;
    const own = before.addressSlots.get(ip);
    if (own !== undefined) {
      out.set(c.name, own);
      continue;
    }
    const path = before.addressPaths.get(ip);
    if (path === undefined) continue;
    out.set(c.name, path[path.length - 1]!);
    if (parents === undefined || c.group === undefined) continue;
    const above: string[] = [];
    for (let g: string | undefined = c.group; g !== undefined && above.length < path.length; g = parents.get(g)) above.unshift(g);
    if (above.length !== path.length - 1) continue;
    for (let k = 0; k < above.length; k++) if (!out.has(above[k]!)) out.set(above[k]!, path[k]!);
  }
  return out;
}

/** The gateway's and the containers' own addresses. */
function fixedAddresses(host: HostPolicy, containers: readonly ContainerPolicy[]): Set<string> {
  const fixed = new Set<string>([host.gateway]);
  containers.forEach((c) => {
    if (c.address) fixed.add(c.address);
  });
  return fixed;
}

/**
 * The groups with a container in force somewhere below them, parents first: a group
 * whose workloads are all waiting shapes nothing and is not rendered.
 */
function groupsInForce(groups: readonly GroupPolicy[], containers: readonly ContainerPolicy[]): GroupPolicy[] {
  if (groups.length === 0) return [];
  const byName = new Map(groups.map((g) => [g.name, g]));
  const used = new Set<string>();
  // Indexed: unoptimised, for-of made an iterator result per container (0.4 MB).
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    for (let g = c.group === undefined ? undefined : byName.get(c.group); g !== undefined && !used.has(g.name); g = g.parent === undefined ? undefined : byName.get(g.parent)) used.add(g.name);
  }
  return groups.filter((g) => used.has(g.name));
}

type Guarantees = Map<string, Record<Direction, BitsPerSec>>;

/**
 * Without groups: with overcommit: scale-by-priority, guarantees that do not fit are met
 * highest priority first and the priority where the link runs out is scaled
 * proportionally; that is the oracle with every container demanding exactly its
 * guarantee. Undefined when every guarantee fits.
 */
function flatGuarantees(policy: Policy, notes: string[]): Guarantees | undefined {
  let out: Guarantees | undefined;
  for (const dir of DIRECTIONS) {
    const capacity = policy.host.capacity[dir];
    const total = totalGuarantee(policy.containers, dir);
    if (total <= capacity) continue;
    out ??= new Map(policy.containers.map((c) => [c.name, ownGuarantees(c)]));
    for (const [name, g] of scaleInto(capacity, policy.containers.map((c) => ({ id: c.name, guarantee: c.bandwidth[dir].guarantee, priority: c.bandwidth[dir].priority })))) out.get(name)![dir] = g;
    notes.push(`${dir} guarantees add up to ${total} bit/s, above the link's ${capacity}: scaled by priority`);
  }
  return out;
}

const ownGuarantees = (c: ContainerPolicy): Record<Direction, BitsPerSec> => ({ download: c.bandwidth.download.guarantee, upload: c.bandwidth.upload.guarantee });

function totalGuarantee(containers: readonly ContainerPolicy[], dir: Direction): number {
  let total = 0;
  for (let i = 0; i < containers.length; i++) total += containers[i]!.bandwidth[dir].guarantee;
  return total;
}

/** Guarantees met highest priority first, the last priority scaled in proportion: the oracle with each demanding its guarantee. */
function scaleInto(available: number, children: readonly { readonly id: string; readonly guarantee: BitsPerSec; readonly priority: number }[]): Map<string, BitsPerSec> {
  const shares = allocate(bitsPerSec(available), children.map((c) => ({ ...c, ceiling: c.guarantee, demand: c.guarantee })));
  return new Map([...shares].map(([id, g]) => [id, bitsPerSec(Math.floor(g))]));
}

/** Guarantees as enforced with groups: every group's, and the containers' that were scaled (none, usually). */
interface LevelGuarantees {
  readonly groups: Guarantees;
  readonly containers: Guarantees | undefined;
}

/**
 * With groups, every group's guarantee per direction, and any container's that had to
 * be scaled. A group that states none guarantees its children's sum (at most its
 * ceiling); then, from the link down, a level whose children are guaranteed more than
 * it has (possible only with overcommit: scale-by-priority, or a ceiling below the sum)
 * scales them into it by priority. Sums are kept per level, not as a list of children:
 * the lists are made only for a level that needs scaling.
 */
function levelGuarantees(host: HostPolicy, groups: readonly GroupPolicy[], containers: readonly ContainerPolicy[], notes: string[]): LevelGuarantees {
  const out: Guarantees = new Map();
  let scaledContainers: Guarantees | undefined;
  for (const g of groups) out.set(g.name, { download: bitsPerSec(0), upload: bitsPerSec(0) });
  const { levelOf, groupLevel, ownLevel } = levelsOf(groups);
  // Each level's children's total per direction (by level: 0 the link), the containers'
  // first, in one pass over them that also finds each one's level (a pass of its own
  // over 10,000 containers, cold, cost its loop again). Float64Arrays by level, not a Map
  // by group name per direction: each Map update boxed its sum (a heap number), 20,000
  // per compile. Arrays of small integers, not Float64Arrays: unoptimised, each read of a
  // Float64Array's element and each sum made a heap number (40,000, 0.6 MB); a sum that
  // stays below 2^31 (100 containers of 1 Mbit/s: 10^8) is a small integer, boxed by no one.
  const containerLevel = new Int32Array(containers.length);
  const containerSums = { download: zeros(groups.length + 1), upload: zeros(groups.length + 1) };
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i]!;
    const level = levelOf(c.group);
    containerLevel[i] = level;
    containerSums.download[level] += c.bandwidth.download.guarantee;
    containerSums.upload[level] += c.bandwidth.upload.guarantee;
  }
  for (const dir of DIRECTIONS) {
    // Then each group's guarantee, bottom-up, added to its parent's level.
    const sums = containerSums[dir];
    for (let i = groups.length - 1; i >= 0; i--) {
      const g = groups[i]!;
      const b = g.bandwidth[dir];
      const own = bitsPerSec(b.guarantee ?? Math.min(sums[ownLevel[i]!]!, b.ceiling));
      out.get(g.name)![dir] = own;
      sums[groupLevel[i]!] += own;
    }
    // From the link down: each level's children fit what the level has.
    const scale = (level: number, available: number, what: string): void => {
      const total = sums[level]!;
      if (total <= available) return;
      const kids = [
        ...groups.filter((_, j) => groupLevel[j] === level).map((g) => ({ id: g.name, guarantee: out.get(g.name)![dir], priority: g.bandwidth[dir].priority, group: true })),
        ...containers.filter((_, j) => containerLevel[j] === level).map((c) => ({ id: c.name, guarantee: c.bandwidth[dir].guarantee, priority: c.bandwidth[dir].priority, group: false })),
      ];
      const isGroup = new Set(kids.filter((k) => k.group).map((k) => k.id));
      for (const [id, g] of scaleInto(available, kids)) {
        if (isGroup.has(id)) out.get(id)![dir] = g;
        else {
          scaledContainers ??= new Map(containers.map((c) => [c.name, ownGuarantees(c)]));
          scaledContainers.get(id)![dir] = g;
        }
      }
      notes.push(`${dir} guarantees under ${what} add up to ${formatRate(bitsPerSec(total))}, above its ${formatRate(bitsPerSec(available))}: scaled by priority`);
    };
    scale(0, host.capacity[dir], 'the link');
    groups.forEach((g, i) => scale(ownLevel[i]!, out.get(g.name)![dir], `group "${g.name}"`));
  }
  return { groups: out, containers: scaledContainers };
}

/** n zeros in a packed array of small integers (new Array(n) would be holey). */
const zeros = (n: number): number[] => Array.from({ length: n }, () => 0);

/**
 * Levels by number: 0 the link, 1 + the index of a group (its first, should a name be
 * listed twice) for that group's children. Each group's parent level and its own,
 * looked up by name once, not once per direction, and the lookup for containers'.
 */
function levelsOf(groups: readonly GroupPolicy[]): { levelOf: (name: string | undefined) => number; groupLevel: Int32Array; ownLevel: Int32Array } {
  const levelByName = new Map<string, number>();
  groups.forEach((g, i) => {
    if (!levelByName.has(g.name)) levelByName.set(g.name, i + 1);
  });
  // A parent that is not a group in force is the link (as a container of no group).
  const levelOf = (name: string | undefined): number => (name === undefined ? 0 : (levelByName.get(name) ?? 0));
  const groupLevel = new Int32Array(groups.length);
  const ownLevel = new Int32Array(groups.length);
  groups.forEach((g, i) => {
    groupLevel[i] = levelOf(g.parent);
    ownLevel[i] = levelOf(g.name);
  });
  return { levelOf, groupLevel, ownLevel };
}

/** `slots`: each group's, at its index. */
function groupNodes(groups: readonly GroupPolicy[], slots: Int32Array, guarantees: Guarantees): GroupNode[] {
  const nodes = new Map<string, GroupNode>();
  const rates = (g: GroupPolicy, dir: Direction): NodeRates => {
    const b = g.bandwidth[dir];
    return { guarantee: guarantees.get(g.name)![dir], ceiling: b.ceiling, priority: b.priority, burst: b.burst };
  };
  groups.forEach((g, i) => {
    const parent = g.parent === undefined ? undefined : nodes.get(g.parent);
    nodes.set(g.name, { kind: 'group', id: g.name, parent, level: parent ? parent.level + 1 : 1, slot: slots[i]!, download: rates(g, 'download'), upload: rates(g, 'upload'), policy: g });
  });
  return [...nodes.values()];
}
