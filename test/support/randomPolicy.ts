// Random policies for the random-policy kernel tests: a seeded generator (the same seed
// draws the same policies), each policy with the containers' flows and which of them
// send. Pure.
import { parsePolicyTexts } from '../../src/policy/load';
import type { Policy } from '../../src/policy/model';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomContainer {
  readonly name: string;
  readonly guaranteeKbit: number;
  /** Undefined: the link. */
  readonly ceilingKbit: number | undefined;
  readonly priority: number;
  readonly flows: number;
  readonly busy: boolean;
}

export interface RandomDraw {
  readonly index: number;
  readonly linkMbit: number;
  readonly containers: readonly RandomContainer[];
}

export interface DrawOptions {
  /** Namespace names are sl-<prefix>…; keep it short (interface names have 15 bytes). */
  readonly prefix: string;
  readonly linkMbit: number;
}

const int = (r: () => number, min: number, max: number): number => min + Math.floor(r() * (max - min + 1));

/**
 * 3–6 containers; guarantees add up to 30–95% of the link, none below 2% of it (so the
 * largest guarantee ratio stays well inside what validation allows); about a third with
 * a ceiling below the link; priorities 0–7; 1–8 flows; at least one busy and one idle.
 */
export function drawPolicy(r: () => number, index: number, linkMbit: number): RandomDraw {
  const n = int(r, 3, 6);
  const link = linkMbit * 1000;
  const weights = Array.from({ length: n }, () => 0.2 + r());
  const total = weights.reduce((s, w) => s + w, 0);
  const share = 0.3 + 0.65 * r();
  const floor = 0.02 * link;
  const guarantees = weights.map((w) => Math.max(floor, Math.floor(((share * w) / total) * link)));
  const scale = Math.min(1, (0.95 * link) / guarantees.reduce((s, g) => s + g, 0));
  const busyFlags = Array.from({ length: n }, () => r() < 0.6);
  if (!busyFlags.some((b) => b)) busyFlags[int(r, 0, n - 1)] = true;
  if (busyFlags.every((b) => b)) busyFlags[int(r, 0, n - 1)] = false;
  const containers = guarantees.map((g0, i): RandomContainer => {
    const g = Math.max(floor, Math.floor(g0 * scale));
    const ceiling = r() < 0.35 ? Math.floor(g + (link - g) * (0.2 + 0.6 * r())) : undefined;
    return { name: `c${i}`, guaranteeKbit: g, ceilingKbit: ceiling, priority: int(r, 0, 7), flows: int(r, 1, 8), busy: busyFlags[i]! };
  });
  return { index, linkMbit, containers };
}

/** A 1 Gbit/s link for about one draw in four, else 100 Mbit/s. */
const GBIT_SHARE = 0.25;

/** The draw a seed stands for, link speed included: the same seed, the same policy and traffic. */
export function drawFromSeed(seed: number, index: number): RandomDraw {
  const r = seededRandom(seed);
  return drawPolicy(r, index, r() < GBIT_SHARE ? 1000 : 100);
}

export const rate = (kbit: number): string => `${kbit}kbit`;

/** The Host of a random draw's sandbox: its own namespace, bridge and IFB, the link both ways. */
export const sandboxHostText = (prefix: string, name: string, linkMbit: number): string => `apiVersion: sluice.dev/v1
kind: Host
metadata: { name: ${prefix}${name} }
spec:
  mode: shared
  netns: sl-${prefix}host
  bridge: sl-${prefix}br0
  ifb: sl-${prefix}ifb0
  subnet: 198.18.0.0/24
  capacity: { download: ${linkMbit}mbit, upload: ${linkMbit}mbit }
`;

/** A draw's rates in one direction, the same both ways. */
export const directionText = (n: { readonly guaranteeKbit: number; readonly ceilingKbit: number | undefined; readonly priority: number }): string =>
  `{ guarantee: ${rate(n.guaranteeKbit)}${n.ceilingKbit !== undefined ? `, ceiling: ${rate(n.ceilingKbit)}` : ''}, priority: ${n.priority} }`;

/** The i-th container of a draw, in a managed namespace of the sandbox (`extra`: more spec lines, such as its group). */
export const sandboxContainerText = (prefix: string, c: { readonly name: string; readonly guaranteeKbit: number; readonly ceilingKbit: number | undefined; readonly priority: number }, i: number, extra = ''): string => `---
apiVersion: sluice.dev/v1
kind: Container
metadata: { name: ${c.name} }
spec:
  match: { managed: sl-${prefix}${c.name} }
  address: 198.18.0.${10 + i}
${extra}  download: ${directionText(c)}
  upload: ${directionText(c)}
`;

export function policyText(draw: RandomDraw, prefix: string): string {
  return [sandboxHostText(prefix, 'rand', draw.linkMbit), ...draw.containers.map((c, i) => sandboxContainerText(prefix, c, i))].join('');
}

export function parseDraw(draw: RandomDraw, prefix: string): Policy {
  const r = parsePolicyTexts([{ path: `random-${draw.index}.yaml`, text: policyText(draw, prefix) }]);
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.policy;
}

export function describeDraw(d: RandomDraw): string {
  const cs = d.containers.map((c) => `${c.name} g${(c.guaranteeKbit / 1000).toFixed(1)}${c.ceilingKbit !== undefined ? ` c${(c.ceilingKbit / 1000).toFixed(1)}` : ''} p${c.priority} ×${c.flows}${c.busy ? ' busy' : ' idle'}`);
  return `#${d.index} ${d.linkMbit} mbit/s: ${cs.join(', ')}`;
}
