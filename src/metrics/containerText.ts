// Per-container metric families, written straight into bytes in the Prometheus text
// format from the latest snapshot and cached until the next one: at 10,000 containers
// that is ~220,000 series, which prom-client's generic path renders too slowly for a
// scrape that must not stall the reconciler. The values are the kernel's own cumulative
// counters, so they stay monotonic across daemon restarts (the classes survive them).

import { gzip } from 'node:zlib';
import type { TrafficSnapshot, ContainerTraffic } from '../traffic/snapshot';

/** A metric family rendered from snapshot rows of type R. */
export interface Family<R> {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly value: (r: R) => number;
}

const FAMILIES: readonly Family<ContainerTraffic>[] = [
  { name: 'sluice_container_bytes_total', type: 'counter', help: 'Bytes sent through the container class (L2, as HTB counts them).', value: (r) => r.bytes },
  { name: 'sluice_container_packets_total', type: 'counter', help: 'Packets sent through the container class.', value: (r) => r.packets },
  { name: 'sluice_container_drops_total', type: 'counter', help: 'Packets dropped in the container class (its leaf queue included).', value: (r) => r.drops },
  { name: 'sluice_container_overlimits_total', type: 'counter', help: 'Times the container class was over its rate and had to wait or borrow.', value: (r) => r.overlimits },
  { name: 'sluice_container_borrows_total', type: 'counter', help: 'Times the class borrowed idle capacity from its parent (HTB).', value: (r) => r.borrows },
  { name: 'sluice_container_lends_total', type: 'counter', help: 'Times the class sent within its own guarantee (HTB "lends").', value: (r) => r.lends },
  { name: 'sluice_container_backlog_bytes', type: 'gauge', help: 'Bytes queued in the container class.', value: (r) => r.backlogBytes },
  { name: 'sluice_container_rate_bytes_per_second', type: 'gauge', help: 'Current smoothed rate of the container.', value: (r) => r.rate / 8 },
  { name: 'sluice_container_guarantee_bytes_per_second', type: 'gauge', help: 'Guarantee in force (after schedules and overcommit scaling).', value: (r) => r.guarantee / 8 },
  { name: 'sluice_container_ceiling_bytes_per_second', type: 'gauge', help: 'Ceiling in force.', value: (r) => r.ceiling / 8 },
  { name: 'sluice_container_borrowed_bytes_per_second', type: 'gauge', help: 'Current rate above the guarantee.', value: (r) => Math.max(0, r.rate - r.guarantee) / 8 },
];

const INFO_NAME = 'sluice_container_info';
const INFO_HEADER = `# HELP ${INFO_NAME} The container a policy entry shapes (value 1): workload is its source's name for it (a Docker container's, a pod's), source that source (docker, cni).\n# TYPE ${INFO_NAME} gauge\n`;
const NEWLINE = 0x0a;
const ZERO_DIGIT = 0x30;
/** Widest value a line can carry: a double's shortest form is at most 24 characters. */
const MAX_VALUE_BYTES = 32;

export const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** One family as plain exposition text (the small families: groups', peer sets'), appended to `out`. */
export function familyText<R>(out: string[], f: Family<R>, rows: readonly R[], labels: (r: R) => string): void {
  out.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
  for (const r of rows) out.push(`${f.name}{${labels(r)}} ${f.value(r)}\n`);
}

/** A growable byte buffer for one block of exposition text. */
class TextBuffer {
  private buf: Buffer;
  private at = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, sizeHint));
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** Text known to be ASCII (metric names, help, numbers). */
  ascii(text: string): void {
    this.room(text.length);
    this.at += this.buf.write(text, this.at, 'latin1');
  }

  /** TypedArray#set, not Buffer#copy or #write: no call into C++ per line. */
  bytes(b: Buffer): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** `${value}` as bytes; non-negative integers (every counter) without making a string. */
  value(value: number): void {
    this.room(MAX_VALUE_BYTES);
    if (!Number.isSafeInteger(value) || value < 0) {
      const text = `${value}`;
      for (let i = 0; i < text.length; i++) this.buf[this.at++] = text.charCodeAt(i);
      return;
    }
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    let v = value;
    for (let i = this.at + digits - 1; i >= this.at; i--) {
      this.buf[i] = ZERO_DIGIT + (v % 10);
      v = Math.floor(v / 10);
    }
    this.at += digits;
  }

  newline(): void {
    this.room(1);
    this.buf[this.at++] = NEWLINE;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

interface ContainerLabels {
  /** The render that last saw the container; older entries are containers gone. */
  seen: number;
  download?: Buffer;
  upload?: Buffer;
  info?: { readonly key: string; readonly line: Buffer };
}

/**
 * Label sets as UTF-8 bytes, made once per container and direction and kept while the
 * container exists: a tick's render only writes names, these and the numbers.
 */
class LabelBytes {
  private readonly byContainer = new Map<string, ContainerLabels>();
  private generation = 0;

  /** Each row's label set, and each container's info line (once, in order of first row). */
  forRows(rows: readonly ContainerTraffic[]): { readonly rows: Buffer[]; readonly info: Buffer[] } {
    const gen = ++this.generation;
    const out = new Array<Buffer>(rows.length);
    const info: Buffer[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      let e = this.byContainer.get(r.container);
      if (!e) this.byContainer.set(r.container, (e = { seen: 0 }));
      out[i] = e[r.direction] ??= Buffer.from(`{container="${escapeLabel(r.container)}",direction="${r.direction}"} `, 'utf8');
      if (e.seen === gen) continue;
      e.seen = gen;
      const source = r.source ?? '';
      const workload = r.workload ?? '';
      const key = `${source}\0${workload}`;
      if (e.info?.key !== key) e.info = { key, line: Buffer.from(`${INFO_NAME}{container="${escapeLabel(r.container)}",source="${escapeLabel(source)}",workload="${escapeLabel(workload)}"} 1\n`, 'utf8') };
      info.push(e.info.line);
    }
    if (this.byContainer.size > info.length) for (const [name, e] of this.byContainer) if (e.seen !== gen) this.byContainer.delete(name);
    return { rows: out, info };
  }
}

/** The blocks of one snapshot's text: each family, then the info family. */
function renderBlocks(snapshot: TrafficSnapshot, labels: LabelBytes, onBlock: (block: Buffer) => void): void {
  const rows = snapshot.rows;
  const { rows: rowLabels, info: infoLines } = labels.forRows(rows);
  for (const f of FAMILIES) {
    const text = new TextBuffer(rows.length * (f.name.length + 64));
    text.ascii(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    const name = Buffer.from(f.name, 'latin1');
    const value = f.value;
    for (let i = 0; i < rows.length; i++) {
      text.bytes(name);
      text.bytes(rowLabels[i]!);
      text.value(value(rows[i]!));
      text.newline();
    }
    onBlock(text.done());
  }
  const info = new TextBuffer(rows.length * 96);
  info.ascii(INFO_HEADER);
  for (const line of infoLines) info.bytes(line);
  onBlock(info.done());
}

export function renderContainerMetrics(snapshot: TrafficSnapshot | undefined): string {
  if (!snapshot) return '';
  const blocks: Buffer[] = [];
  renderBlocks(snapshot, new LabelBytes(), (b) => blocks.push(b));
  return Buffer.concat(blocks).toString('utf8');
}

const gzipBlock = (block: Buffer): Promise<Buffer> =>
  new Promise((resolve, reject) => gzip(block, { level: 1 }, (err, out) => (err ? reject(err) : resolve(out))));

interface Rendered {
  readonly blocks: readonly Buffer[];
  /** One gzip member per block, concatenated (gzip members concatenate into one stream). */
  readonly gzipped: Promise<Buffer>;
  text?: string;
}

/**
 * Renders once per snapshot object; scrapes in between get the cached text (and its gzip).
 * Each block is handed to zlib on the thread pool as soon as it is written, so the
 * compression of one family runs while the next is rendered (the first scrape after a
 * tick pays both, on a 2-core host nearly at the cost of the larger).
 */
export class ContainerMetricsCache {
  private source: TrafficSnapshot | undefined;
  private rendered: Rendered = { blocks: [], gzipped: Promise.resolve(Buffer.alloc(0)), text: '' };
  private readonly labels = new LabelBytes();

  private renderedFor(snapshot: TrafficSnapshot | undefined): Rendered {
    if (snapshot === this.source) return this.rendered;
    this.source = snapshot;
    if (!snapshot) {
      this.rendered = { blocks: [], gzipped: Promise.resolve(Buffer.alloc(0)), text: '' };
      return this.rendered;
    }
    const blocks: Buffer[] = [];
    const members: Promise<Buffer>[] = [];
    renderBlocks(snapshot, this.labels, (b) => {
      blocks.push(b);
      members.push(gzipBlock(b));
    });
    this.rendered = { blocks, gzipped: Promise.all(members).then((m) => Buffer.concat(m)) };
    return this.rendered;
  }

  get(snapshot: TrafficSnapshot | undefined): string {
    const r = this.renderedFor(snapshot);
    r.text ??= Buffer.concat(r.blocks).toString('utf8');
    return r.text;
  }

  /** The text as gzip members; it can follow another member. */
  gzip(snapshot: TrafficSnapshot | undefined): Promise<Buffer> {
    return this.renderedFor(snapshot).gzipped;
  }
}
