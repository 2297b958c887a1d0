// serve answers the sluice CNI plugin's invocations that its native shim (native/shim/)
// hands over the control socket: the same protocol code as the Node plugin
// (src/cni/main.ts), run in the daemon, so a runtime's ADD starts no Node process. The
// record is renamed into place before the answer (unsynced: cni/store.ts). For ADD, the reload that reads it applies the
// pod's objects (without observing) before serve answers, so the pod is shaped when its
// ADD returns; its tick follows the answer. DEL and GC reload after the answer.

import { answer, systemDeps, type PluginReply } from '../cni/main';

/**
 * How long an ADD waits for its pod's shaping before it is answered anyway (the pod is
 * then shaped by the reload's tick, as before). Well under the shim's 5 s, after which
 * it would run the Node plugin instead.
 */
export const SHAPE_WAIT_MS = 1000;

export interface CniInvocation {
  /** The runtime's CNI_* variables, as the plugin process received them. */
  readonly env: Readonly<Record<string, string>>;
  /** The network configuration the runtime wrote on the plugin's stdin. */
  readonly stdin: string;
}

export interface CniReloads {
  /** A reload, started after the answer is written. */
  reloadSoon(reason: string): void;
  /** A reload that applies the change first; settles then (never rejects). */
  shapeSoon(reason: string): Promise<void>;
}

export function answerCni(invocation: CniInvocation, reloads: CniReloads, waitMs = SHAPE_WAIT_MS): Promise<PluginReply> {
  const add = invocation.env['CNI_COMMAND'] === 'ADD';
  return answer(invocation.stdin, invocation.env, {
    ...systemDeps,
    // The poke would come back to this daemon: reload directly.
    poke: async (_socket, reason) => {
      if (add) await withinMs(reloads.shapeSoon(reason), waitMs);
      else setImmediate(() => reloads.reloadSoon(reason));
      return true;
    },
  });
}

function withinMs(done: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([done, late]).finally(() => clearTimeout(timer));
}
