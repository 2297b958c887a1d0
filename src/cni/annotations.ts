// Sluice's pod annotations (sluice.dev/<direction>-<field>), checked for what can never
// be valid, whatever the node: an unknown key, a value that does not parse, a priority
// outside 0–7, a guarantee above the pod's own ceiling. The plugin fails ADD on these
// (the runtime shows the error in the pod's events, as for the reference bandwidth
// plugin's bad values); the daemon's CNI source refuses them too (a record written by an
// older plugin). Whether a valid pod fits the node's link is the daemon's question. Pure.

import { POLICY_NAME } from '../policy/limits';
import { parseRate, parseSize } from '../policy/rates';
import type { RuntimeBandwidth } from './protocol';

/** Sluice's own pod annotations (io.kubernetes.cri.pod-annotations) start with this. */
export const ANNOTATION_PREFIX = 'sluice.dev/';

const DIRECTIONS = ['download', 'upload'] as const;
const FIELDS = ['guarantee', 'ceiling', 'priority', 'burst'] as const;
type AnnotationDirection = (typeof DIRECTIONS)[number];
type AnnotationField = (typeof FIELDS)[number];

export const annotationKey = (dir: AnnotationDirection, field: AnnotationField): string => `${ANNOTATION_PREFIX}${dir}-${field}`;

/** The Group (kind: Group, in the files) the pod joins. */
export const GROUP_ANNOTATION = `${ANNOTATION_PREFIX}group`;

export const ACCEPTED_ANNOTATIONS: readonly string[] = [...DIRECTIONS.flatMap((d) => FIELDS.map((f) => annotationKey(d, f))), GROUP_ANNOTATION];

const PRIORITY = /^[0-7]$/;

/**
 * Why these annotations (the sluice.dev/ ones) can never shape a pod; empty when they
 * can. `bandwidth` is the runtime's (kubernetes.io/ingress-bandwidth, egress-bandwidth),
 * a ceiling where no sluice.dev/ ceiling is given.
 */
export function annotationProblems(annotations: Readonly<Record<string, string>>, bandwidth: RuntimeBandwidth | undefined): string[] {
  const problems: string[] = [];
  const unknown = Object.keys(annotations).filter((k) => k.startsWith(ANNOTATION_PREFIX) && !ACCEPTED_ANNOTATIONS.includes(k));
  if (unknown.length > 0) problems.push(`unknown annotation ${unknown.join(', ')} (Sluice reads ${ACCEPTED_ANNOTATIONS.join(', ')})`);
  const group = annotations[GROUP_ANNOTATION];
  if (group !== undefined && !POLICY_NAME.test(group)) problems.push(`${GROUP_ANNOTATION} "${group}" is not a group's name: lowercase letters, digits and "-" (at most 32), starting and ending with a letter or digit`);
  for (const dir of DIRECTIONS) {
    const value = (field: AnnotationField): string | undefined => annotations[annotationKey(dir, field)];
    const rate = (field: 'guarantee' | 'ceiling'): number | undefined => parsed(value(field), parseRate, annotationKey(dir, field), problems);
    const guarantee = rate('guarantee');
    const ceiling = rate('ceiling');
    parsed(value('burst'), parseSize, annotationKey(dir, 'burst'), problems);
    const priority = value('priority');
    if (priority !== undefined && !PRIORITY.test(priority)) problems.push(`${annotationKey(dir, 'priority')} "${priority}": a priority is 0 (highest) … 7`);
    if (ceiling === 0) problems.push(`${annotationKey(dir, 'ceiling')} "${value('ceiling')}": a ceiling of 0 lets nothing through`);
    const runtimeCeiling = dir === 'download' ? bandwidth?.ingressRate : bandwidth?.egressRate;
    const effective = ceiling ?? (runtimeCeiling && runtimeCeiling > 0 ? runtimeCeiling : undefined);
    if (guarantee !== undefined && effective !== undefined && effective > 0 && guarantee > effective) {
      const from = ceiling !== undefined ? annotationKey(dir, 'ceiling') : `kubernetes.io/${dir === 'download' ? 'ingress' : 'egress'}-bandwidth`;
      problems.push(`${annotationKey(dir, 'guarantee')} "${value('guarantee')}" is above the pod's ceiling (${from}: ${effective} bit/s)`);
    }
  }
  return problems;
}

function parsed(text: string | undefined, parse: (t: string) => number, key: string, problems: string[]): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (e) {
    problems.push(`${key} ${(e as Error).message}`);
    return undefined;
  }
}
