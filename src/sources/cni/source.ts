// The pods the sluice CNI plugin records as a workload source: each attachment in the
// state directory is a workload (its address on the bridge, its namespace and devices)
// and a Container document made from its bandwidth and sluice.dev/ annotations. Enabled
// by the Host's `cni:` section; followed by watching the state directory, and poked
// through the control socket by the plugin itself (serve's `sources-changed`).

import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { AttachmentStore } from '../../cni/store';
import type { Logger } from '../../ports/logger';
import type { HostSections, SourceSnapshot, Stop, WorkloadSource, WorkloadSourceFactory } from '../source';
import { CNI, cniDocuments } from './documents';

const DEBOUNCE_MS = 20;

export class CniSource implements WorkloadSource {
  readonly name = CNI;
  readonly noun = 'CNI pod';
  private lastRefused = '';

  constructor(
    private readonly host: HostSections,
    private readonly logger: Logger,
  ) {}

  get stateDir(): string {
    return this.host.cni!.stateDir;
  }

  async load(): Promise<SourceSnapshot> {
    const attachments = await new AttachmentStore(this.stateDir).list(this.host.cni!.network);
    const made = cniDocuments(attachments, this.host);
    // Every reload reads every pod: say what is refused when it changes, not each time.
    const refused = JSON.stringify(made.refused);
    if (refused !== this.lastRefused && made.refused.length > 0) this.logger.log('warn', 'pods not shaped: their annotations do not fit', { pods: made.refused });
    this.lastRefused = refused;
    return { documents: made.documents, issues: [], workloads: made.workloads, origin: this.stateDir };
  }

  follow(onChange: (reason: string) => void): Stop {
    let watcher: FSWatcher | undefined;
    let pending: NodeJS.Timeout | undefined;
    try {
      mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
      // Catches records written while serve started, or whose poke was lost.
      watcher = watch(this.stateDir, { recursive: true }, (_event, file) => {
        if (!file || !String(file).endsWith('.json') || pending) return;
        pending = setTimeout(() => {
          pending = undefined;
          onChange('cni attachments changed');
        }, DEBOUNCE_MS);
      });
    } catch (e) {
      this.logger.log('warn', 'cannot watch the CNI state directory; pods are shaped when the plugin pokes the control socket', { dir: this.stateDir, error: (e as Error).message });
    }
    return () => {
      if (pending) clearTimeout(pending);
      watcher?.close();
    };
  }
}

/** One source per (state dir, network, bridge, defaults): a reload that changes nothing keeps its watch. */
export class CniSourceFactory implements WorkloadSourceFactory {
  readonly label = CNI;
  private readonly sources = new Map<string, CniSource>();

  constructor(private readonly logger: Logger) {}

  fromHost(host: HostSections): CniSource | undefined {
    if (!host.cni) return undefined;
    const key = JSON.stringify([host.cni, host.bridge, host.subnet, host.capacity]);
    let source = this.sources.get(key);
    if (!source) {
      source = new CniSource(host, this.logger);
      this.sources.set(key, source);
    }
    return source;
  }
}
