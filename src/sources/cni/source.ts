// The pods the sluice CNI plugin records as a workload source: each attachment in the
// state directory is a workload (its address on the bridge, its namespace and devices)
// and a Container document made from its bandwidth and sluice.dev/ annotations. Enabled
// by the Host's `cni:` section; followed by watching the state directory, and poked
// through the control socket by the plugin itself (serve's `sources-changed`).

import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { AttachmentStore, listingOf, type RecordScan } from '../../cni/store';
import type { Logger } from '../../ports/logger';
import type { HostSections, SourceSnapshot, Stop, WorkloadSource, WorkloadSourceFactory } from '../source';
import { RecordChanges } from './changes';
import { CNI, cniDocuments, type DocumentCache } from './documents';

const DEBOUNCE_MS = 20;

export class CniSource implements WorkloadSource {
  readonly name = CNI;
  readonly noun = 'CNI pod';
  private lastRefused = '';
  /** The records as the last load found them: their listing, and what each held (read again only once changed). */
  private scanned: RecordScan | undefined;
  /** Documents made at the last load (the Host is this source's own: a new Host makes a new source). */
  private made: DocumentCache = new Map();
  /**
   * While serve follows a named network: an inotify watch of its directory (native, read
   * synchronously) and the entries it named since the last scan, so a load reads only
   * the records that changed instead of a stat of every record (RecordChanges).
   */
  private changes: RecordChanges | undefined;

  constructor(
    private readonly host: HostSections,
    private readonly logger: Logger,
  ) {}

  get stateDir(): string {
    return this.host.cni!.stateDir;
  }

  async load(): Promise<SourceSnapshot> {
    // Each record's stamp is taken before its read: a record written meanwhile makes the next check see a change, never hides one.
    this.scanned = this.scan();
    const attachments = [...this.scanned.records.values()].flatMap((r) => (r.attachment ? [r.attachment] : []));
    const made = cniDocuments(attachments, this.host, this.made);
    this.made = made.made;
    // Every reload reads every pod: say what is refused when it changes, not each time.
    const refused = JSON.stringify(made.unshaped);
    if (refused !== this.lastRefused && made.unshaped.length > 0) this.logger.log('warn', 'pods not shaped: their annotations can never be valid', { pods: made.unshaped.map((u) => ({ pod: u.workload, reason: u.detail })) });
    this.lastRefused = refused;
    return { documents: [], defaults: made.defaults, unshaped: made.unshaped, issues: [], workloads: made.workloads, origin: this.stateDir };
  }

  /** Every record when nothing says which changed; else only those the watch named. */
  private scan(): RecordScan {
    const store = new AttachmentStore(this.stateDir);
    const network = this.host.cni!.network;
    const named = this.changes?.take();
    try {
      if (network !== undefined && this.scanned && named) return store.rescan(network, this.scanned, named);
      return store.scan(network, this.scanned);
    } catch (e) {
      // The names taken are in no scan now: the next one reads every record.
      this.changes?.forget();
      throw e;
    }
  }

  /** Whether a record differs from what the last load read: the entries the watch named, or (without one) every record's stamp. */
  private differs(): boolean {
    const network = this.host.cni!.network;
    const store = new AttachmentStore(this.stateDir);
    const scanned = this.scanned;
    if (network === undefined || !this.changes || !scanned) return store.listing(network) !== (scanned ? listingOf(scanned) : undefined);
    const named = this.changes.peek();
    if (!named) return true;
    return [...named].some((file) => {
      const now = store.stampNow(network, file);
      return now.stamp !== scanned.records.get(now.path)?.stamp;
    });
  }

  follow(onChange: (reason: string) => void): Stop {
    let watcher: FSWatcher | undefined;
    let pending: NodeJS.Timeout | undefined;
    try {
      const network = this.host.cni!.network;
      // The network's own directory when the Host names it: a plain inotify watch. Node's
      // recursive watch (every network) walks the tree again in JavaScript on each event,
      // and each record serve writes makes four (temporary file, lock, rename, unlock):
      // six directory scans on the event loop in the middle of every ADD (traced).
      const dir = network !== undefined ? new AttachmentStore(this.stateDir).networkDir(network) : this.stateDir;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (network !== undefined) this.changes = this.watchRecords(dir);
      // Catches records written while serve started, or whose poke was lost. A record serve
      // itself wrote (answering the native plugin) has been read by the reload that answer
      // started: only records the last load did not see ask for another.
      watcher = watch(dir, { recursive: network === undefined }, (_event, file) => {
        if (!file || !String(file).endsWith('.json') || pending) return;
        pending = setTimeout(() => {
          pending = undefined;
          if (this.differs()) onChange('cni attachments changed');
        }, DEBOUNCE_MS);
      });
    } catch (e) {
      this.logger.log('warn', 'cannot watch the CNI state directory; pods are shaped when the plugin pokes the control socket', { dir: this.stateDir, error: (e as Error).message });
    }
    return () => {
      if (pending) clearTimeout(pending);
      watcher?.close();
      this.changes?.close();
      this.changes = undefined;
    };
  }

  /** The records' changes while serve follows them; without (the kernel refused), every load reads every record's stamp. */
  private watchRecords(dir: string): RecordChanges | undefined {
    try {
      return RecordChanges.open(dir);
    } catch (e) {
      this.logger.log('warn', 'cannot watch the CNI records for changes; every reload reads every record', { dir, error: (e as Error).message });
      return undefined;
    }
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
