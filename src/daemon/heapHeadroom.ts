// Room in V8's new space for the next pod's ADD, made while serve is idle. Every ADD and
// the tick after it allocate ~7-15 MB (bench/idleAdd, --trace-gc: a scavenge each
// 14-16 MB, every one to two ADDs at 100 pods), so an ADD that arrived with the new
// space nearly full paid a scavenge inside its answer: 3-6 ms, and ~150 page faults
// (~13 µs each here) as it touched the semi-space's other half. After each tick, and
// after each ADD's answer is written (the next ADD of a burst is tens of ms away), when
// less than this is left, serve collects the new space itself, before the next ADD comes.

import { getHeapSpaceStatistics, setFlagsFromString, type HeapSpaceInfo } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Room an ADD's answer needs (it allocated 2.6-3.1 MB of new space at 100 pods), with a margin. */
export const HEADROOM_BYTES = 8 * 1024 * 1024;
/** Bytes of headroom; 0 (or anything not a positive number) turns the collection off (bench/idleAdd and bench/peers compare the two). */
export const HEADROOM_ENV = 'SLUICE_HEAP_HEADROOM';

type MinorGc = (options: { type: 'minor' }) => void;

export interface HeapHeadroom {
  /** Collects the new space if less than the headroom is left (serve calls it when idle); whether it did. */
  makeRoom(): boolean;
}

/** V8's new space now (undefined should a V8 name it otherwise): its room here, its use in answerCost. */
export const newSpace = (): HeapSpaceInfo | undefined => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');

/**
 * V8's gc() is reachable without --expose-gc on the command line (serve's command line
 * is the unit's, the DaemonSet's, or `sluice serve`'s): the flag set at run time, then a
 * new context has it.
 */
function minorGc(): MinorGc {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as MinorGc;
}

export function heapHeadroom(bytes: number = Number(process.env[HEADROOM_ENV] ?? HEADROOM_BYTES)): HeapHeadroom {
  if (!(bytes > 0)) return { makeRoom: () => false };
  const gc = minorGc();
  return {
    makeRoom() {
      if ((newSpace()?.space_available_size ?? Number.POSITIVE_INFINITY) >= bytes) return false;
      gc({ type: 'minor' });
      return true;
    },
  };
}
