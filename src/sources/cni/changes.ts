// Which CNI records changed since serve's last load: an inotify watch of the network's
// directory (native/src/dirwatch.cc), drained synchronously. A change another process
// made is queued by the kernel within the writer's own rename or unlink, so a drain
// right before a load names every record changed since the drain before it. Then serve
// reads those records again, not a stat of every record on the node for every ADD.
//
// What invalidates it (the next scan reads every record): no drain yet since the watch
// was opened; the kernel's queue overflowed (IN_Q_OVERFLOW); the directory was removed
// or moved; a drain failed; a scan failed after taking the names. Nothing else is kept: the records themselves stay in the
// scan (AttachmentStore.rescan), keyed by path and stamp as a full scan keeps them.

import { closeFd, drainDirWatch, openDirWatch } from '../../kernel/native';

export class RecordChanges {
  private names = new Set<string>();
  /** Events may have been lost since the last take: the next scan reads everything. */
  private lost = true;
  /** The watch sees nothing any more: every scan reads everything. */
  private dead = false;

  private constructor(private fd: number | undefined) {}

  /** Throws a SluiceError when the kernel refuses the watch (the caller scans everything instead). */
  static open(dir: string): RecordChanges {
    return new RecordChanges(openDirWatch(dir));
  }

  /** The entries named since the last take (more may follow), or undefined when every record must be read. */
  peek(): ReadonlySet<string> | undefined {
    this.drain();
    return this.lost || this.dead ? undefined : this.names;
  }

  /** As peek, and the next take counts from now: the caller scans right after. */
  take(): ReadonlySet<string> | undefined {
    const named = this.peek();
    this.names = new Set();
    this.lost = false;
    return named;
  }

  /** What was named is lost (a scan failed after taking it): the next take says read everything. */
  forget(): void {
    this.lost = true;
  }

  close(): void {
    if (this.fd !== undefined) closeFd(this.fd);
    this.fd = undefined;
    this.dead = true;
  }

  private drain(): void {
    if (this.fd === undefined) return;
    try {
      const drained = drainDirWatch(this.fd);
      for (const name of drained.names) this.names.add(name);
      if (drained.overflowed) this.lost = true;
      if (drained.gone) this.close();
    } catch {
      this.close();
    }
  }
}
