// The plugin's commands. ADD records the attachment and pokes the daemon; the daemon
// (its CNI source) does the shaping, so the plugin stays fast and never races other ADDs
// over the kernel's HTB tree. Each command: parsed request → act → the spec's output.

import { annotationProblems } from './annotations';
import { attachmentOf, workloadName, type Attachment, type HostSide } from './attachment';
import { CNI_ERROR, CniError, passThrough, versionResult, type CniRequest, type PrevResult } from './protocol';
import type { AttachmentStore } from './store';

export interface PluginDeps {
  readonly storeFor: (stateDir: string) => AttachmentStore;
  /** The host-side veth and its bridge (sysfs), from the earlier plugins' result. */
  readonly hostSide: (prev: PrevResult | undefined) => Promise<HostSide>;
  /** Tells a running daemon to re-read the attachments now; resolves false when none runs. */
  readonly poke: (socket: string, reason: string) => Promise<boolean>;
  /** What is missing of the attachment's shaping in the kernel (empty: shaped). */
  readonly missingShaping: (a: Attachment) => Promise<string[]>;
  /** The clock the record's addedAt is read from (default Date.now). */
  readonly now?: () => number;
}

/** What the plugin prints on stdout (undefined: nothing) on success. */
export type PluginOutput = Record<string, unknown> | undefined;

export async function runPlugin(request: CniRequest, deps: PluginDeps): Promise<PluginOutput> {
  switch (request.command) {
    case 'VERSION':
      return versionResult(request.cniVersion);
    case 'ADD': {
      const { conf, env } = request;
      const output = passThrough(conf);
      const attachment = attachmentOf(conf, env, await deps.hostSide(conf.prevResult), (deps.now ?? Date.now)());
      if (attachment.addresses.length === 0) {
        throw new CniError(CNI_ERROR.invalidConfig, `prevResult has no address for ${env.ifname} of container ${env.containerId}`, 'put an interface plugin with IPAM (e.g. bridge + host-local) before sluice in the conflist');
      }
      // Never valid, on any node: fail the pod now (its events say why), as the bandwidth plugin does.
      const problems = annotationProblems(attachment.annotations, attachment.bandwidth);
      if (problems.length > 0) {
        throw new CniError(CNI_ERROR.invalidConfig, `pod ${workloadName(attachment)}: ${problems.join('; ')}`, 'fix the pod\'s sluice.dev/ annotations (rates in tc units such as 30mbit, sizes such as 64kib, priorities 0-7) and create it again');
      }
      await io(() => deps.storeFor(conf.stateDir).put(attachment), `recording the attachment in ${conf.stateDir}`);
      // The daemon shapes the pod; while it is down the record waits for it.
      await deps.poke(conf.controlSocket, `cni ADD ${env.containerId}`);
      return output;
    }
    case 'DEL': {
      const { conf, env } = request;
      const removed = await io(() => deps.storeFor(conf.stateDir).remove(conf.name, env), `removing the attachment from ${conf.stateDir}`);
      if (removed) await deps.poke(conf.controlSocket, `cni DEL ${env.containerId}`);
      return undefined;
    }
    case 'CHECK': {
      const { conf, env } = request;
      const attachment = await io(() => deps.storeFor(conf.stateDir).get(conf.name, env), `reading the attachment in ${conf.stateDir}`);
      if (!attachment) {
        throw new CniError(CNI_ERROR.unknownContainer, `no sluice attachment for container ${env.containerId} (${env.ifname}) on network ${conf.name}`, 'the ADD was not recorded or a GC removed it: delete and re-add the pod');
      }
      const missing = await deps.missingShaping(attachment);
      if (missing.length > 0) {
        throw new CniError(CNI_ERROR.shapingMissing, `container ${env.containerId} is not shaped: ${missing.join('; ')}`, 'is `sluice serve` running with a Host whose cni section names this network\'s bridge? its log says why a pod waits');
      }
      return undefined;
    }
    case 'GC': {
      const { conf } = request;
      // Without the list a runtime has not asked to collect anything.
      if (!conf.validAttachments) return undefined;
      const removed = await io(() => deps.storeFor(conf.stateDir).retainOnly(conf.name, conf.validAttachments!), `collecting stale attachments in ${conf.stateDir}`);
      if (removed.length > 0) await deps.poke(conf.controlSocket, `cni GC removed ${removed.length}`);
      return undefined;
    }
    case 'STATUS': {
      const { conf } = request;
      try {
        await deps.storeFor(conf.stateDir).writable();
      } catch (e) {
        throw new CniError(CNI_ERROR.notAvailable, `cannot write attachments to ${conf.stateDir}: ${(e as Error).message}`, 'the plugin runs as root and the state directory must be writable (it is created when missing)');
      }
      return undefined;
    }
    default: {
      const never: never = request;
      throw new Error(`unhandled request ${JSON.stringify(never)}`);
    }
  }
}

async function io<T>(act: () => Promise<T>, what: string): Promise<T> {
  try {
    return await act();
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw new CniError(CNI_ERROR.ioFailure, `${what}: ${(e as Error).message}`, 'the plugin runs as root; check the stateDir in the plugin\'s configuration');
  }
}
