// serve answers the sluice CNI plugin's invocations that its native shim (native/shim/)
// hands over the control socket: the same protocol code as the Node plugin
// (src/cni/main.ts), run in the daemon, so a runtime's ADD starts no Node process. The
// record is synced before the answer; the reload that shapes the pod starts after it.

import { answer, systemDeps, type PluginReply } from '../cni/main';

export interface CniInvocation {
  /** The runtime's CNI_* variables, as the plugin process received them. */
  readonly env: Readonly<Record<string, string>>;
  /** The network configuration the runtime wrote on the plugin's stdin. */
  readonly stdin: string;
}

export function answerCni(invocation: CniInvocation, reloadSoon: (reason: string) => void): Promise<PluginReply> {
  return answer(invocation.stdin, invocation.env, {
    ...systemDeps,
    // The poke would come back to this daemon: reload directly, once the answer is written.
    poke: (_socket, reason) => {
      setImmediate(() => reloadSoon(reason));
      return Promise.resolve(true);
    },
  });
}
