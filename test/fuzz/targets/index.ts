// Every fuzz target by name (bench/fuzz.ts runs them all; the smoke test too).

import type { FuzzTarget } from '../harness';
import { cniAnnotationsTarget } from './cniAnnotations';
import { cniPluginTarget } from './cniPlugin';
import { dockerLabelsTarget } from './dockerLabels';
import { netlinkTarget } from './netlink';
import { policyFilesTarget } from './policyFiles';

export const TARGETS: Readonly<Record<string, FuzzTarget<never>>> = Object.fromEntries(
  [policyFilesTarget('yaml'), policyFilesTarget('json'), dockerLabelsTarget(), cniAnnotationsTarget(), cniPluginTarget(), netlinkTarget()].map((t) => [t.name, t as unknown as FuzzTarget<never>]),
);
