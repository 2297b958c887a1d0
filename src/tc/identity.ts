// The identity of a kernel object, defined once: two objects with the same identity are
// "the same thing" and the planner compares their fields; different identities are
// create/delete. objectKey spells an identity as a string (the general diff's index, the
// counters of ObservedState.stats); the converged fast path finds objects by the same
// identity in parts, without building the strings (IDENTITY below). A unit test checks
// that the two agree for every type.

import type { TcHandle } from './handle';
import { assertNever } from './never';
import { STATE_LISTS } from './model';
import type {
  KernelState,
  AddressObject,
  CgroupClassidObject,
  ClassObject,
  FilterObject,
  KernelObject,
  LinkObject,
  NamespaceObject,
  NetnsLocator,
  QdiscObject,
  RouteObject,
  SysctlObject,
} from './model';

export const namespaceKey = (name: string): string => `netns/${name}`;
export const linkKey = (netns: NetnsLocator, name: string): string => `${netns}/link/${name}`;
/** A device by where it is: the key sets and maps of devices use (device names hold no NUL). */
export const deviceKey = (netns: NetnsLocator, dev: string): string => `${netns}\0${dev}`;
/** An HTB tree on a device: the qdisc whose handle has `major` there, and everything in it. */
export const treeKey = (netns: NetnsLocator, dev: string, major: number): string => `${netns}\0${dev}\0${major}`;
/** The key of the class `classid` on `dev` in `netns`, without building the object. */
export const classKey = (netns: NetnsLocator, dev: string, classid: TcHandle): string => `${netns}/${dev}/class/${classid >>> 0}`;

export function objectKey(o: KernelObject): string {
  switch (o.type) {
    case 'namespace':
      return namespaceKey(o.name);
    case 'link':
      return linkKey(o.netns, o.name);
    case 'address':
      return `${o.netns}/addr/${o.dev}/${o.cidr}`;
    case 'route':
      return `${o.netns}/route/${o.dst}`;
    case 'sysctl':
      return `${o.netns}/sysctl/${o.key}`;
    case 'qdisc':
      return `${o.netns}/${o.dev}/qdisc/${deviceId.qdisc(o)}`;
    case 'class':
      return classKey(o.netns, o.dev, o.classid);
    case 'filter':
      return `${o.netns}/${o.dev}/filter/${o.parent >>> 0}/${o.prio}/${o.protocol}/${deviceId.filter(o)}`;
    case 'cgroup-classid':
      return `cgroup/${o.cgroup}`;
    default:
      return assertNever(o);
  }
}

/**
 * An identity in two parts, for types not kept per device: a first part, which most
 * objects of the type hold alone (a link's name, an address's cidr, a route's or
 * sysctl's namespace), and the rest. Equal for two objects exactly when their objectKeys
 * are (device and link names hold no '/': the kernel allows none).
 */
export interface PartIdentity<O extends KernelObject> {
  readonly first: (o: O) => string;
  /** The rest as one string: built only for objects whose first part is shared. */
  readonly rest: (o: O) => string;
  readonly sameRest: (a: O, b: O) => boolean;
}

/**
 * tc objects are identified within their device (netns, dev) by a number, and filters
 * sharing a handle also by parent, prio and protocol (sameFilterRest).
 */
export const deviceId = {
  qdisc: (q: QdiscObject): number => q.parent >>> 0,
  class: (c: ClassObject): number => c.classid >>> 0,
  filter: (f: FilterObject): number => f.handle >>> 0,
} as const;

export const sameFilterRest = (a: FilterObject, b: FilterObject): boolean => a.parent >>> 0 === b.parent >>> 0 && a.prio === b.prio && a.protocol === b.protocol;

const whole = <O extends KernelObject>(first: (o: O) => string): PartIdentity<O> => ({ first, rest: () => '', sameRest: () => true });

export const IDENTITY = {
  namespace: whole<NamespaceObject>((n) => n.name),
  cgroup: whole<CgroupClassidObject>((c) => c.cgroup),
  /** By name first: a host-side veth's name is its own; lo and eth0 are in every container namespace. */
  link: { first: (l: LinkObject) => l.name, rest: (l: LinkObject) => l.netns, sameRest: (a: LinkObject, b: LinkObject) => a.netns === b.netns },
  /** By cidr first. */
  address: {
    first: (a: AddressObject) => a.cidr,
    rest: (a: AddressObject) => `${a.netns}/${a.dev}`,
    sameRest: (a: AddressObject, b: AddressObject) => a.netns === b.netns && a.dev === b.dev,
  },
  /** By namespace first: every container namespace has a default route. */
  route: { first: (r: RouteObject) => r.netns, rest: (r: RouteObject) => r.dst, sameRest: (a: RouteObject, b: RouteObject) => a.dst === b.dst },
  sysctl: { first: (s: SysctlObject) => s.netns, rest: (s: SysctlObject) => s.key, sameRest: (a: SysctlObject, b: SysctlObject) => a.key === b.key },
} as const;

/** Both states' objects (the second's win on identical keys). */
export function mergeStates(a: KernelState, b: KernelState): KernelState {
  const merge = <T extends KernelObject>(x: readonly T[], y: readonly T[]): T[] => {
    const keys = new Set(y.map(objectKey));
    return [...x.filter((o) => !keys.has(objectKey(o))), ...y];
  };
  return Object.fromEntries(STATE_LISTS.map((name) => [name, merge<KernelObject>(a[name], b[name])])) as unknown as KernelState;
}
