// The CNI protocol as Sluice's chained plugin speaks it (containernetworking/cni SPEC.md,
// 1.0.0 and 1.1.0): the invocation (environment + network configuration on stdin) parsed
// into a tagged request, and the spec's error object. Pure: no process, no files.

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const PLUGIN_CNI_VERSION = '1.1.0';

/** The spec's well-known error codes (SPEC.md "Error" section); 100+ are the plugin's own. */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADDs now. */
  notAvailable: 50,
  /** CHECK: the container's shaping is missing (Sluice's own code). */
  shapingMissing: 100,
  /** A bug in the plugin (libcni's ErrInternal). */
  internal: 999,
} as const;

export type CniErrorCode = (typeof CNI_ERROR)[keyof typeof CNI_ERROR];

/** An error as the spec prints it on stdout: code, msg, details (what to do). */
export class CniError extends Error {
  constructor(
    readonly code: CniErrorCode,
    message: string,
    readonly details: string,
  ) {
    super(message);
    this.name = 'CniError';
  }

  toJson(cniVersion: string): Record<string, unknown> {
    return { cniVersion, code: this.code, msg: this.message, details: this.details };
  }
}

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly sandbox?: string;
}

export interface CniIp {
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
  /** Before 1.0.0 results carried it; ignored otherwise. */
  readonly version?: string;
}

/** The result of the plugins before Sluice in the chain: passed through untouched. */
export interface PrevResult {
  readonly cniVersion?: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIp[];
  readonly [key: string]: unknown;
}

/** runtimeConfig.bandwidth as containerd and CRI-O send it (capability "bandwidth"). */
export interface RuntimeBandwidth {
  /** bit/s towards the container: its download ceiling. */
  readonly ingressRate?: number;
  /** bits. */
  readonly ingressBurst?: number;
  /** bit/s from the container: its upload ceiling. */
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

/** A runtime's attachment as 1.1's GC names it in cni.dev/valid-attachments. */
export interface AttachmentKey {
  readonly containerId: string;
  readonly ifname: string;
}

/** The network configuration on stdin, with Sluice's own (optional) fields. */
export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  /** Where attachments are recorded (default /run/sluice/cni). */
  readonly stateDir: string;
  /** The daemon's control socket, poked after ADD and DEL (default /run/sluice/sluice.sock). */
  readonly controlSocket: string;
  readonly prevResult?: PrevResult;
  readonly bandwidth?: RuntimeBandwidth;
  readonly annotations: Readonly<Record<string, string>>;
  readonly validAttachments?: readonly AttachmentKey[];
}

export const DEFAULT_STATE_DIR = '/run/sluice/cni';
export const DEFAULT_CONTROL_SOCKET = '/run/sluice/sluice.sock';
export const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

export interface AttachmentEnv {
  readonly containerId: string;
  /** CNI_NETNS: may be absent on DEL. */
  readonly netns?: string;
  readonly ifname: string;
  /** CNI_ARGS, e.g. K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0. */
  readonly args: Readonly<Record<string, string>>;
}

export type CniRequest =
  | { readonly command: 'VERSION'; readonly cniVersion: string }
  | { readonly command: 'ADD' | 'CHECK'; readonly conf: NetConf; readonly env: AttachmentEnv & { readonly netns: string } }
  | { readonly command: 'DEL'; readonly conf: NetConf; readonly env: AttachmentEnv }
  | { readonly command: 'GC' | 'STATUS'; readonly conf: NetConf };

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

/** Commands later than the first supported version, and the version that brought each (SPEC.md's version table). */
const INTRODUCED_IN: Partial<Record<CniCommand, (typeof SUPPORTED_VERSIONS)[number]>> = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };

const isCommand = (c: string | undefined): c is CniCommand => c !== undefined && (COMMANDS as readonly string[]).includes(c);

/** Position in SUPPORTED_VERSIONS: the versions are listed in order. */
const versionIndex = (version: string): number => (SUPPORTED_VERSIONS as readonly string[]).indexOf(version);

/** The configuration's cniVersion if stdin names a supported one (for an error's own cniVersion); else the plugin's. */
export function versionOfInput(stdin: string): string {
  try {
    const v: unknown = (JSON.parse(stdin) as Record<string, unknown> | null)?.['cniVersion'];
    if (typeof v === 'string' && versionIndex(v) >= 0) return v;
  } catch {
    // Not JSON: the plugin's version.
  }
  return PLUGIN_CNI_VERSION;
}

/** Parses an invocation; throws CniError with the spec's code when it is malformed. */
export function parseRequest(env: Readonly<Record<string, string | undefined>>, stdin: string): CniRequest {
  const command = env['CNI_COMMAND'];
  if (!isCommand(command)) {
    throw new CniError(CNI_ERROR.invalidEnvironment, `CNI_COMMAND is ${command === undefined ? 'not set' : JSON.stringify(command)}`, `set CNI_COMMAND to one of ${COMMANDS.join(', ')}`);
  }
  const raw = decode(stdin, command === 'VERSION');
  if (command === 'VERSION') return { command, cniVersion: typeof raw['cniVersion'] === 'string' ? raw['cniVersion'] : PLUGIN_CNI_VERSION };
  const conf = parseConf(raw);
  const since = INTRODUCED_IN[command];
  if (since && versionIndex(conf.cniVersion) < versionIndex(since)) {
    throw new CniError(CNI_ERROR.incompatibleVersion, `${command} needs cniVersion ${since} or later, the configuration says ${conf.cniVersion}`, `${command} came with CNI ${since}; a runtime speaking ${conf.cniVersion} does not send it`);
  }
  switch (command) {
    case 'GC':
    case 'STATUS':
      return { command, conf };
    case 'DEL':
      return { command, conf, env: attachmentEnv(env, false) };
    case 'ADD':
    case 'CHECK': {
      const e = attachmentEnv(env, true);
      return { command, conf, env: { ...e, netns: e.netns! } };
    }
    default:
      throw new Error(`unhandled CNI command ${command}`);
  }
}

function decode(stdin: string, optional: boolean): Record<string, unknown> {
  if (stdin.trim() === '' && optional) return {};
  try {
    const value: unknown = JSON.parse(stdin);
    if (isRecord(value)) return value;
  } catch {
    // Reported below with the same code.
  }
  throw new CniError(CNI_ERROR.decodeFailure, 'the network configuration on stdin is not a JSON object', 'the runtime passes the plugin\'s network configuration as JSON on stdin');
}

function parseConf(raw: Record<string, unknown>): NetConf {
  const cniVersion = stringField(raw, 'cniVersion');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniError(CNI_ERROR.incompatibleVersion, `cniVersion ${cniVersion} is not supported`, `use one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const runtimeConfig = isRecord(raw['runtimeConfig']) ? raw['runtimeConfig'] : {};
  const prev = raw['prevResult'];
  const valid = raw['cni.dev/valid-attachments'];
  const name = stringField(raw, 'name');
  // The network's name is a directory of the state directory: the spec's own rule keeps it one.
  if (!NETWORK_NAME.test(name)) throw new CniError(CNI_ERROR.invalidConfig, `the network configuration's "name" ${JSON.stringify(name)} is not a network name`, 'letters, digits, "_", "." and "-", starting with a letter or digit (the CNI specification)');
  return {
    cniVersion,
    name,
    type: stringField(raw, 'type'),
    stateDir: optionalString(raw, 'stateDir') ?? DEFAULT_STATE_DIR,
    controlSocket: optionalString(raw, 'controlSocket') ?? DEFAULT_CONTROL_SOCKET,
    ...(isRecord(prev) ? { prevResult: checkedPrevResult(prev) } : {}),
    ...(isRecord(runtimeConfig['bandwidth']) ? { bandwidth: bandwidthOf(runtimeConfig['bandwidth']) } : {}),
    annotations: stringRecord(runtimeConfig[POD_ANNOTATIONS_CAPABILITY]),
    ...(Array.isArray(valid) ? { validAttachments: valid.filter(isRecord).map((v) => ({ containerId: String(v['containerID'] ?? ''), ifname: String(v['ifname'] ?? '') })) } : {}),
  };
}

/** The spec's network name (libcni validates it the same way). */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Linux's rule for a device name (dev_valid_name): 1 to 15 bytes, not "." or "..", no "/", ":" or white space. */
export const isDeviceName = (name: string): boolean => name !== '.' && name !== '..' && Buffer.byteLength(name) > 0 && Buffer.byteLength(name) < 16 && !/[/:\s]/.test(name);

/** The fields of the earlier plugins' result that Sluice reads, in the shape the spec gives them; the rest passes through untouched. */
function checkedPrevResult(prev: Record<string, unknown>): PrevResult {
  const refuse = (field: string, value: unknown, expected: string): never => {
    throw new CniError(CNI_ERROR.invalidConfig, `prevResult.${field} is ${value === undefined ? 'missing' : JSON.stringify(value)?.slice(0, 80)}, not ${expected}`, "the earlier plugins' result must follow the CNI specification's result format: check the plugins before sluice in the conflist");
  };
  const list = (key: string): unknown[] => {
    const v = prev[key];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : refuse(key, v, 'a list');
  };
  list('interfaces').forEach((i, n) => {
    if (!isRecord(i)) refuse(`interfaces[${n}]`, i, 'an object');
    else if (typeof i['name'] !== 'string') refuse(`interfaces[${n}].name`, i['name'], 'a string');
    else if (i['sandbox'] !== undefined && typeof i['sandbox'] !== 'string') refuse(`interfaces[${n}].sandbox`, i['sandbox'], 'a string');
  });
  list('ips').forEach((ip, n) => {
    if (!isRecord(ip)) refuse(`ips[${n}]`, ip, 'an object');
    else if (typeof ip['address'] !== 'string') refuse(`ips[${n}].address`, ip['address'], 'a string');
    else if (ip['interface'] !== undefined && !(Number.isInteger(ip['interface']) && (ip['interface'] as number) >= 0)) refuse(`ips[${n}].interface`, ip['interface'], 'an index into interfaces');
  });
  return prev as PrevResult;
}

function bandwidthOf(b: Record<string, unknown>): RuntimeBandwidth {
  const out: Record<string, number> = {};
  for (const key of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const v = b[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new CniError(CNI_ERROR.invalidConfig, `runtimeConfig.bandwidth.${key} is ${JSON.stringify(v)}`, `${key} is a non-negative number (${key.endsWith('Rate') ? 'bits per second' : 'bits'})`);
    }
    out[key] = v;
  }
  return out;
}

function attachmentEnv(env: Readonly<Record<string, string | undefined>>, needsNetns: boolean): AttachmentEnv {
  const containerId = env['CNI_CONTAINERID'];
  const ifname = env['CNI_IFNAME'];
  const netns = env['CNI_NETNS'];
  const missing = [...(!containerId ? ['CNI_CONTAINERID'] : []), ...(!ifname ? ['CNI_IFNAME'] : []), ...(needsNetns && !netns ? ['CNI_NETNS'] : [])];
  if (missing.length > 0) throw new CniError(CNI_ERROR.invalidEnvironment, `${missing.join(', ')} not set`, 'the runtime sets these for ADD, DEL and CHECK');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId!)) throw new CniError(CNI_ERROR.invalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(containerId)} is not a valid container id`, 'letters, digits, "_", "." and "-", starting with a letter or digit');
  // Part of the attachment record's file name: a "/" would lead out of the state directory.
  if (!isDeviceName(ifname!)) throw new CniError(CNI_ERROR.invalidEnvironment, `CNI_IFNAME ${JSON.stringify(ifname)} is not a network device name`, 'at most 15 characters, without "/", ":" or white space, as Linux names devices');
  return { containerId: containerId!, ifname: ifname!, ...(netns ? { netns } : {}), args: parseCniArgs(env['CNI_ARGS'] ?? '') };
}

/** CNI_ARGS: "K=V;K=V" (IgnoreUnknown and the like are passed through). */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** VERSION's answer. */
export const versionResult = (cniVersion: string): Record<string, unknown> => ({ cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] });

/** ADD's answer: the previous plugin's result, in the configuration's version. */
export function passThrough(conf: NetConf): Record<string, unknown> {
  if (!conf.prevResult) {
    throw new CniError(CNI_ERROR.invalidConfig, 'no prevResult: sluice is a chained plugin and shapes what an earlier plugin attached', 'put sluice after the interface plugin (e.g. bridge) in the conflist\'s "plugins"');
  }
  const ips = conf.prevResult.ips;
  return { ...conf.prevResult, cniVersion: conf.cniVersion, ...(Array.isArray(ips) ? { ips: ips.map((ip) => ipInVersion(ip, conf.cniVersion)) } : {}) };
}

/**
 * A result's IP in `cniVersion`'s shape: before 1.0.0 each IP names its family
 * ("version": "4" or "6", required by 0.3.x and 0.4.0 readers); from 1.0.0 it does not.
 */
function ipInVersion(ip: CniIp, cniVersion: string): CniIp {
  const { version: _family, ...rest } = ip;
  if (versionIndex(cniVersion) >= versionIndex('1.0.0')) return rest;
  return { ...rest, version: ip.address.includes(':') ? '6' : '4' };
}

function stringField(raw: Record<string, unknown>, key: string): string {
  const v = raw[key];
  if (typeof v !== 'string' || v === '') throw new CniError(CNI_ERROR.invalidConfig, `the network configuration has no "${key}"`, `the runtime fills "${key}" from the conflist; check the conflist`);
  return v;
}

function optionalString(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v.startsWith('/')) throw new CniError(CNI_ERROR.invalidConfig, `"${key}" is ${JSON.stringify(v)}`, `"${key}" is an absolute path`);
  return v;
}

function stringRecord(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
