// The live per-container table of the demo (and `status`): guarantee, ceiling,
// priority, current rate, the oracle's share, borrowed, drops.

import Table from 'cli-table3';
import { formatRate } from '../units/format';
import { bitsPerSec, type BitsPerSec } from '../units/units';

export interface LiveRow {
  readonly name: string;
  readonly guarantee: BitsPerSec;
  readonly ceiling: BitsPerSec;
  readonly priority: number;
  readonly rate: BitsPerSec;
  readonly ideal?: BitsPerSec;
  readonly drops: number;
  readonly active?: boolean;
}

const BAR_WIDTH = 20;

function bar(rate: number, ceiling: number): string {
  const filled = Math.max(0, Math.min(BAR_WIDTH, Math.round((rate / Math.max(ceiling, 1)) * BAR_WIDTH)));
  return '█'.repeat(filled) + '·'.repeat(BAR_WIDTH - filled);
}

export function renderLiveTable(title: string, rows: readonly LiveRow[], capacity: BitsPerSec): string {
  const table = new Table({
    head: ['container', 'prio', 'guarantee', 'ceiling', 'rate', 'ideal', 'borrowed', 'drops', `rate vs ceiling`],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    table.push([
      `${r.name}${r.active === false ? ' (idle)' : ''}`,
      String(r.priority),
      formatRate(r.guarantee),
      formatRate(r.ceiling),
      formatRate(bitsPerSec(Math.round(r.rate))),
      r.ideal === undefined ? '-' : formatRate(bitsPerSec(Math.round(r.ideal))),
      formatRate(bitsPerSec(Math.max(0, Math.round(r.rate - r.guarantee)))),
      String(r.drops),
      bar(r.rate, r.ceiling),
    ]);
  }
  const total = rows.reduce((s, r) => s + r.rate, 0);
  return `${title}\n${table.toString()}\ntotal ${formatRate(bitsPerSec(Math.round(total)))} of ${formatRate(capacity)} (${((total / capacity) * 100).toFixed(1)}%)`;
}

/**
 * Shows a phase's tables: in a terminal each replaces the last in place; otherwise only
 * the last is printed, when the phase ends.
 */
export function liveTablePrinter(out: (text: string) => void, live: boolean): { show(table: string): void; done(): void } {
  let last = '';
  let shownLines = 0;
  return {
    show(table) {
      last = table;
      if (!live) return;
      // Move up over the previous table and clear, so the table updates in place.
      out(`${shownLines > 0 ? `\x1b[${shownLines}F\x1b[J` : ''}${table}`);
      shownLines = table.split('\n').length;
    },
    done() {
      if (!live) out(last);
    },
  };
}
