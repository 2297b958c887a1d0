// bench/settleMargin: how close serve's tick after the last pod of a burst comes to a
// clock read after that pod (as idleAdd's first wait took it, after bringUp and its
// shaped() read). The old settled() waited for a tick that started after that read: a
// tick that had started before it left the wait to the 60-s periodic tick (30-s timeout:
// "sluice serve ran no tick within 30000 ms after a pod"). Per round, a fresh node of
// `pods` pods, then: the margin (the tick's start minus the read; < 0: the old wait
// hangs) and status's tickDue at the read and 1.5 s later (what settled() waits for now).
// Run as root: flock /run/sluice-dev.lock npx tsx bench/settleMargin.ts [pods=30] [--rounds N]

import { dirname, join } from 'node:path';
import { requestControl } from '../src/daemon/control';
import { bitsPerSec } from '../src/units/units';
import { exitUnlessRunnable, numberOption } from './args';
import { runBench } from './cniBench';
import { bringUp, removeNamespaces } from './peers/systems';

exitUnlessRunnable({
  name: 'settleMargin',
  usage: `bench/settleMargin: serve's tick after a burst's last pod against a clock read after that pod
  flock /run/sluice-dev.lock npx tsx bench/settleMargin.ts [pods] [--rounds N]   (root; namespaces, serve: under the lock; ~35 s a round)
  pods      pods per round's node (30)
  --rounds  fresh nodes, one after another (5)
  --help    this text`,
  numbers: ['--rounds'],
  positionals: { max: 1, pattern: /^\d+$/ },
});

/** Past TICK_AFTER_CHANGE_MAX_MS: the tick after the last pod has run by then. */
const AFTER_MS = 1500;

interface Status {
  readonly lastTick?: { readonly at: number };
  readonly tickDue?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function round(pods: number): Promise<{ marginMs: number; dueAtRead?: boolean; dueAfter?: boolean }> {
  const node = await bringUp('sluice', pods, bitsPerSec(100e6), 0);
  try {
    const readAt = Date.now();
    const socket = join(dirname(node.serveLog!), 'sluice.sock');
    const atRead = await requestControl<Status>(socket, { cmd: 'status' });
    await sleep(AFTER_MS);
    const after = await requestControl<Status>(socket, { cmd: 'status' });
    return { marginMs: (after.lastTick?.at ?? 0) - readAt, dueAtRead: atRead.tickDue, dueAfter: after.tickDue };
  } finally {
    await node.close();
  }
}

async function main(): Promise<number> {
  const pods = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30);
  const rounds = numberOption('--rounds', 5);
  removeNamespaces('sluice');
  const margins: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const got = await round(pods);
    margins.push(got.marginMs);
    console.log(`round ${r}: tick start − read ${got.marginMs} ms (${got.marginMs < 0 ? 'the old wait hangs' : 'the old wait passes'}); tickDue at the read ${got.dueAtRead}, ${AFTER_MS} ms later ${got.dueAfter}`);
  }
  console.log(`${pods} pods, ${rounds} rounds: margins ${[...margins].sort((a, b) => a - b).join(', ')} ms; the old wait would hang in ${margins.filter((m) => m < 0).length}`);
  return 0;
}

runBench('settleMargin', main, () => removeNamespaces('sluice'));
