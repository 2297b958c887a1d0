// bench/recordPut: the plugin's attachment record, written as serve writes it on a pod's
// ADD (AttachmentStore.put: write, rename under the network's lock), into a tmpfs and into
// a disk-backed directory, alternating, beside `pods` records already there. Wall time
// per put; no kernel objects, so no lock is needed (the disk is shared: run it on its own
// for figures). Run the same script in two checkouts to compare their store.ts.
// Run: nice -n 19 npx tsx bench/recordPut.ts [puts=200] [--pods N] [--disk DIR]

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Attachment } from '../src/cni/attachment';
import { AttachmentStore } from '../src/cni/store';
import { exitUnlessRunnable, numberOption, optionValue } from './args';
import { median, p90 } from './stats';

exitUnlessRunnable({
  name: 'recordPut',
  usage: `bench/recordPut: AttachmentStore.put on a tmpfs and on a disk-backed directory, alternating
  nice -n 19 npx tsx bench/recordPut.ts [puts] [--pods N] [--disk DIR]
  puts     records written into each directory (200)
  --pods   records in the network's directory before the puts (100)
  --disk   where the disk-backed directory is made (/var/tmp; removed after)
  --help   this text`,
  valued: ['--disk'],
  numbers: ['--pods'],
  positionals: { max: 1, pattern: /^\d+$/ },
});

const pod = (id: string): Attachment => ({ format: 1, network: 'pods', containerId: id, ifname: 'eth0', netns: `/var/run/netns/cni-${id}`, hostVeth: `veth${id.slice(0, 8)}`, bridge: 'cni0', addresses: ['198.18.32.10'], annotations: { 'sluice.dev/download-guarantee': '5mbit' }, pod: { namespace: 'default', name: `web-${id}` }, addedAt: Date.now() });
const id = (n: number): string => n.toString(16).padStart(64, '0');

async function timedPut(store: AttachmentStore, n: number): Promise<number> {
  const start = performance.now();
  await store.put(pod(id(n)));
  return performance.now() - start;
}

async function main(): Promise<void> {
  const puts = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200);
  const pods = numberOption('--pods', 100);
  const dirs = { tmpfs: mkdtempSync('/dev/shm/sl-recordput-'), disk: mkdtempSync(join(optionValue('--disk', '/var/tmp'), 'sl-recordput-')) };
  try {
    const stores = { tmpfs: new AttachmentStore(dirs.tmpfs), disk: new AttachmentStore(dirs.disk) };
    const ms: Record<keyof typeof dirs, number[]> = { tmpfs: [], disk: [] };
    for (const store of Object.values(stores)) for (let n = 0; n < pods; n++) await store.put(pod(id(n)));
    // Alternating, so that a burst on the shared disk or CPUs falls on both.
    for (let n = pods; n < pods + puts; n++) for (const k of ['tmpfs', 'disk'] as const) ms[k].push(await timedPut(stores[k], n));
    for (const k of ['tmpfs', 'disk'] as const) {
      const v = ms[k];
      console.log(`${k.padEnd(5)} (${dirs[k]}): put median ${median(v).toFixed(3)} ms, p90 ${p90(v).toFixed(3)}, max ${Math.max(...v).toFixed(1)}, mean ${(v.reduce((s, x) => s + x, 0) / v.length).toFixed(3)} (${v.length} puts beside ${pods})`);
    }
  } finally {
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
  }
}

void main();
