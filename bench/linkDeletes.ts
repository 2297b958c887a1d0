// bench/linkDeletes: deleting the veths of containers that stopped, beside a bridge with
// many ports (as churn does), side by side in one run and alternating round by round:
// Sluice's kernel port (one group delete per run of deletions) against one RTM_DELLINK
// per veth (what Sluice sent before; here `ip -batch` of `link del`, one per device).
// Run as root: npx tsx bench/linkDeletes.ts [ports] [per round] [rounds]   (default 1000 10 10)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns, listNetns } from '../src/kernel/native';
import { RtnlKernel } from '../src/kernel/rtnl/port';
import type { LinkObject } from '../src/tc/model';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'linkDeletes',
  usage: `bench/linkDeletes: deleting the veths of stopped containers beside a bridge with many ports: Sluice's group delete against one RTM_DELLINK per veth
  flock /run/sluice-dev.lock npx tsx bench/linkDeletes.ts [ports] [per round] [rounds]   (root; builds namespaces: under the lock)
  ports      bridge ports (1000)
  per round  veths deleted per round (10)
  rounds     rounds (10)
  --help     this text`,
  positionals: { max: 3, pattern: /^\d+$/ },
});

const [ports = 1000, perRound = 10, rounds = 10] = process.argv.slice(2).map(Number);
const NS = 'sl-bld-host';
const dir = mkdtempSync(join(tmpdir(), 'sl-bld-'));

function ipBatch(lines: readonly string[]): void {
  const file = join(dir, 'batch');
  writeFileSync(file, `${lines.join('\n')}\n`);
  execFileSync('ip', ['-n', NS, '-batch', file]);
}

const vethLines = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => [`link add ${prefix}${i} type veth peer name ${prefix}${i}p`, `link set ${prefix}${i} master sl-br0 up`]).flat();

const veth = (name: string): LinkObject => ({ type: 'link', netns: NS, name, up: true, master: 'sl-br0', spec: { kind: 'veth', peerName: `${name}p`, peerNetns: NS } });

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  for (const ns of listNetns()) if (ns.startsWith('sl-bld-')) deleteNetns(ns);
  createNetns(NS);
  const kernel = new RtnlKernel();
  try {
    ipBatch(['link add sl-br0 type bridge', 'link set sl-br0 up', ...vethLines('sl-s', ports)]);
    const grouped: number[] = [];
    const single: number[] = [];
    for (let round = 0; round < rounds; round++) {
      ipBatch(vethLines(`sl-g${round}x`, perRound));
      const names = Array.from({ length: perRound }, (_, i) => `sl-g${round}x${i}`);
      let t = performance.now();
      const report = await kernel.execute(names.map((n) => ({ op: 'delete', object: veth(n) })));
      grouped.push(performance.now() - t);
      if (report.failed) throw new Error(report.failed.error.message);
      ipBatch(vethLines(`sl-o${round}x`, perRound));
      t = performance.now();
      ipBatch(Array.from({ length: perRound }, (_, i) => `link del sl-o${round}x${i}`));
      single.push(performance.now() - t);
    }
    console.log(`${perRound} veths deleted beside a ${ports}-port bridge, ${rounds} alternating rounds:`);
    console.log(`  Sluice (one group delete): median ${median(grouped).toFixed(1)} ms, min ${Math.min(...grouped).toFixed(1)}, max ${Math.max(...grouped).toFixed(1)}`);
    console.log(`  one DELLINK per veth (ip -batch): median ${median(single).toFixed(1)} ms, min ${Math.min(...single).toFixed(1)}, max ${Math.max(...single).toFixed(1)}`);
    console.log(`  ratio of medians: ${(median(single) / median(grouped)).toFixed(1)}x`);
  } finally {
    await kernel.close();
    deleteNetns(NS);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
