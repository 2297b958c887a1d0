// The shape of policy documents, in zod: the one definition that validates files and
// generates policies/schema.json for editors (scripts/write-schema.ts). Meaning that
// spans documents (duplicates, admission, subnets) is checked in validate.ts.

import { z } from 'zod';
import { parseDuration, parseRate, parseSize, ACCEPTED_RATE_UNITS, ACCEPTED_SIZE_UNITS } from './rates';

export const API_VERSION = 'sluice.dev/v1';

/**
 * A string read by one of the unit parsers: the document holds the parsed, branded
 * value (BitsPerSec, Bytes, Seconds), or the parser's message is the issue.
 */
function unitString<T>(parse: (text: string) => T, description: string, examples: string[]) {
  return z
    .string()
    .meta({ description, examples })
    .transform((text, ctx): T => {
      try {
        return parse(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });
}

const rate = (description: string) =>
  unitString(parseRate, `${description} (units: ${ACCEPTED_RATE_UNITS})`, ['100mbit', '500kbit', '12.5mbyte/s']);

const NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const name = z.string().regex(NAME, 'use lowercase letters, digits and "-" (at most 32), starting and ending with a letter or digit');
const ifname = z.string().regex(/^[a-zA-Z0-9_.-]{1,15}$/, 'a Linux interface name: 1-15 letters, digits, "_", "-" or "."');
const ipv4 = z.ipv4({ message: 'an IPv4 address such as 198.18.0.10' });
const cidr = z.cidrv4({ message: 'an IPv4 subnet such as 198.18.0.0/24' });
const ipv6 = z.ipv6({ message: 'an IPv6 address such as 2001:2::c612:a' });
const cidr6 = z.cidrv6({ message: 'an IPv6 prefix such as 2001:2::/64' });

const metadata = z.strictObject({
  name: name.meta({ description: 'Unique name of this object across all policy files.' }),
  labels: z.record(z.string(), z.string()).optional(),
});

const direction = z.strictObject({
  guarantee: rate('Rate this container always gets when it wants it'),
  ceiling: rate('Most this container may use, borrowing; defaults to the link capacity').optional(),
  priority: z.int().min(0, 'priority is 0 (highest) … 7').max(7, 'priority is 0 (highest) … 7').default(4)
    .meta({ description: 'Who borrows idle capacity first: 0 (highest) … 7 (lowest).' }),
  burst: unitString(parseSize, `Bytes sent at line rate before the rate applies (units: ${ACCEPTED_SIZE_UNITS})`, ['64kib']).optional(),
});

/**
 * One direction of a group: what its members get together. Every field may be left out:
 * the guarantee is then the sum of its members' guarantees, the ceiling its parent
 * group's (or the link), the priority 4.
 */
const groupDirection = z
  .strictObject({
    guarantee: rate("Rate the group's members together always get when they want it; default: the sum of their guarantees").optional(),
    ceiling: rate("Most the group's members may use together, borrowing; defaults to the parent group's ceiling, or the link").optional(),
    priority: z.int().min(0, 'priority is 0 (highest) … 7').max(7, 'priority is 0 (highest) … 7').default(4)
      .meta({ description: 'Who borrows idle capacity first among the groups and containers beside this group: 0 (highest) … 7 (lowest).' }),
    burst: unitString(parseSize, `Bytes the group may send at line rate before its rate applies (units: ${ACCEPTED_SIZE_UNITS})`, ['64kib']).optional(),
  })
  .prefault({});

const match = z
  .union([
    z.strictObject({ managed: z.string().regex(/^sl-[a-z0-9-]{1,28}$/, 'a managed namespace name starts with "sl-"') })
      .meta({ description: 'A network namespace Sluice creates and owns (under /run/netns).' }),
    z.strictObject({ netns: z.string().min(1) }).meta({ description: 'An existing namespace: a name under /run/netns or an absolute path.' }),
    z.strictObject({ pid: z.int().positive() }).meta({ description: "The network namespace of a running process (/proc/<pid>/ns/net)." }),
    z.strictObject({ ip: z.union([ipv4, ipv6]) }).meta({ description: 'Traffic to and from this address (IPv4 or IPv6) on the bridge.' }),
    z.strictObject({ cgroup: z.string().regex(/^[A-Za-z0-9_.\/-]+$/, 'a cgroup path under the net_cls root, e.g. sl-agent') })
      .meta({ description: 'Host-network processes in this net_cls cgroup.' }),
    z.strictObject({
      docker: z.strictObject({
        name: z.string().optional(),
        service: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      }),
    }).meta({ description: 'A Docker container by name, compose service or labels.' }),
    z.strictObject({
      cni: z.strictObject({
        name: z.string().optional(),
        service: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      }),
    }).meta({ description: 'A pod the sluice CNI plugin recorded, by "namespace/pod" name or by its sluice.dev/ annotations.' }),
  ])
  .meta({ description: 'How Sluice finds the container: exactly one of managed, netns, pid, ip, cgroup, docker, cni.' });

const hostSpec = z.strictObject({
  mode: z.enum(['shared', 'per-device']).default('shared')
    .meta({ description: 'shared: one HTB tree per direction on the bridge; per-device: each container shaped on its own device, idle capacity lent by the reconciler.' }),
  netns: z.string().min(1).default('sl-host')
    .meta({ description: 'Namespace holding the bridge and IFB. Default: the sandbox sl-host. "host" means the real host namespace (needs --host-netns on apply).' }),
  bridge: ifname.default('sl-br0'),
  ifb: ifname.default('sl-ifb0'),
  subnet: cidr,
  gateway: ipv4.optional().meta({ description: "The bridge's address; defaults to the subnet's first address." }),
  subnet6: cidr6.optional()
    .meta({ description: "Dual-stack: the containers' IPv6 prefix (/96 or shorter). Each container Sluice addresses gets this prefix with its IPv4 address as the low 32 bits, the bridge likewise with the gateway's; IPv6 traffic is classified into the same classes as IPv4." }),
  capacity: z.strictObject({
    download: rate('Link capacity towards the containers'),
    upload: rate('Link capacity from the containers'),
  }),
  overcommit: z.enum(['reject', 'scale-by-priority']).default('reject')
    .meta({ description: 'When guarantees add up to more than the link: reject (an admission error) or scale them, highest priority first.' }),
  external: z.boolean().optional()
    .meta({ description: "The bridge and netns belong to a workload runtime (Docker, a CNI plugin): shaped, never created, re-addressed or deleted. Default: true when the Host enables a workload source (docker, cni), else false." }),
  docker: z.strictObject({
    endpoint: z.string().regex(/^unix:\/\/\/.+/, 'a unix socket URL such as unix:///run/docker.sock').optional()
      .meta({ description: 'Where the Docker Engine API listens. Default: --docker-endpoint, then $DOCKER_HOST, then unix:///var/run/docker.sock.' }),
    labels: z.boolean().default(true)
      .meta({ description: 'Read io.sluice.* labels of running containers as Container documents, merged with the files.' }),
  }).optional()
    .meta({ description: "Shape Docker containers: the bridge is Docker's network bridge (shaped, never created or deleted) in the namespace `netns`, where the daemon runs." }),
  cni: z.strictObject({
    stateDir: z.string().regex(/^\//, 'an absolute path such as /run/sluice/cni').default('/run/sluice/cni')
      .meta({ description: 'Where the sluice CNI plugin records attachments (its "stateDir").' }),
    network: z.string().min(1).optional()
      .meta({ description: 'Only pods of this CNI network (the conflist name); default: every pod whose veth is a port of the bridge.' }),
    defaults: z.strictObject({
      guarantee: rate('Guarantee of a pod without a sluice.dev/<direction>-guarantee annotation').prefault('1mbit'),
      priority: z.int().min(0).max(7).default(4).meta({ description: 'Priority of a pod without a sluice.dev/<direction>-priority annotation.' }),
    }).prefault({}),
  }).optional()
    .meta({ description: "Shape the pods the sluice CNI plugin records: the bridge is the CNI bridge plugin's (shaped, never created or deleted) in the namespace `netns`." }),
});

const containerSpec = z.strictObject({
  match,
  group: name.optional().meta({ description: 'The group (kind: Group) whose guarantee and ceiling this container shares; absent: directly under the link.' }),
  address: ipv4.optional().meta({ description: 'Address on the bridge; assigned from the subnet when absent (managed and attached namespaces).' }),
  address6: ipv6.optional().meta({ description: "IPv6 address on the bridge, classified with the IPv4 one; for a managed namespace it defaults to the Host's subnet6 with the IPv4 address as the low 32 bits." }),
  download: direction,
  upload: direction,
});

const groupSpec = z.strictObject({
  parent: name.optional().meta({ description: 'The group this group belongs to (at most three levels of groups); absent: directly under the link.' }),
  download: groupDirection,
  upload: groupDirection,
});

const patchDirection = z.strictObject({
  guarantee: rate('Guarantee during the window').optional(),
  ceiling: rate('Ceiling during the window').optional(),
  priority: z.int().min(0).max(7).optional(),
});

const scheduleSpec = z.strictObject({
  cron: z.string().meta({ description: 'When the window opens: five-field cron (minute hour day month weekday).', examples: ['0 1 * * *'] }),
  duration: unitString(parseDuration, 'How long the window stays open', ['2h', '30m']),
  patches: z.array(z.strictObject({
    container: name,
    download: patchDirection.optional(),
    upload: patchDirection.optional(),
  })).min(1, 'a schedule needs at least one patch'),
});

const envelope = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION, { message: `apiVersion must be "${API_VERSION}"` }),
    kind: z.literal(kind),
    metadata,
    spec,
  });

export const hostDocument = envelope('Host', hostSpec);
export const containerDocument = envelope('Container', containerSpec);
export const scheduleDocument = envelope('Schedule', scheduleSpec);
export const groupDocument = envelope('Group', groupSpec);

export const policyDocument = z.discriminatedUnion('kind', [hostDocument, containerDocument, scheduleDocument, groupDocument]);

/**
 * The Host sections that enable a workload source, each also a `match:` key selecting
 * that source's workloads. A new source adds its section here and its folder under src/sources.
 */
export const WORKLOAD_SOURCE_SECTIONS = ['docker', 'cni'] as const;
export type WorkloadSourceLabel = (typeof WORKLOAD_SOURCE_SECTIONS)[number];

export const DOCUMENT_KINDS = ['Host', 'Container', 'Schedule', 'Group'] as const;

export type HostDocument = z.output<typeof hostDocument>;
export type ContainerDocument = z.output<typeof containerDocument>;
export type ScheduleDocument = z.output<typeof scheduleDocument>;
export type GroupDocument = z.output<typeof groupDocument>;
export type PolicyDocument = z.output<typeof policyDocument>;

/** The JSON Schema an editor uses for policy files (one document). */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(policyDocument, { io: 'input', unrepresentable: 'any' }),
    title: 'Sluice policy document',
    $id: 'https://sluice.dev/schema/v1/policy.json',
  };
}
