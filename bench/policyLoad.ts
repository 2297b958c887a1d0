// serve's policy load per ADD, alone (no kernel): a Host with a `cni:` section and N pod
// records, loaded again after each new record as serve's ADD path does (following the
// records, so a load reads only the records its watch named; --no-watch: every record's
// stamp, as a load that does not follow them).
//   npx tsx bench/policyLoad.ts [pods=100] [rounds=50] [--no-watch]
// Records under /dev/shm when it exists (a node's /run/sluice is a tmpfs).

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Attachment } from '../src/cni/attachment';
import { AttachmentStore } from '../src/cni/store';
import { silentLogger } from '../src/ports/logger';
import { CniSourceFactory } from '../src/sources/cni/source';
import { FilesSource } from '../src/sources/files/source';
import { PolicyLoader } from '../src/sources/loader';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'policyLoad',
  usage: `bench/policyLoad: serve's policy load per ADD, alone: a Host with a cni: section and N pod records, loaded after each new record
  npx tsx bench/policyLoad.ts [pods] [rounds] [--no-watch]   (no kernel, no lock)
  pods        pod records (100)
  rounds      loads (50)
  --no-watch  not following the records (each load stats every record)
  --help      this text`,
  positionals: { max: 2, pattern: /^\d+$/ },
  switches: ['--no-watch'],
});

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const pods = Number(positional[0] ?? 100);
const rounds = Number(positional[1] ?? 50);
const watching = !process.argv.includes('--no-watch');
const dir = mkdtempSync(path.join(tmpdir(), 'sl-policyload-'));
const stateDir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sl-policyload-records-'));
const network = 'sl-bench';
writeFileSync(path.join(dir, 'host.yaml'), [
  'apiVersion: sluice.dev/v1',
  'kind: Host',
  'metadata: { name: peers }',
  `spec: { netns: sl-x-host, bridge: sl-br0, ifb: sl-ifb0, subnet: 198.18.0.0/22, gateway: 198.18.0.1, capacity: { download: 1000mbit, upload: 1000mbit }, overcommit: reject, cni: { stateDir: ${stateDir}, network: ${network} } }`,
  '',
].join('\n'));

const attachment = (i: number): Attachment => ({
  format: 1,
  network,
  containerId: `sl-ps-${i}`,
  ifname: 'eth0',
  netns: `/run/netns/sl-ps-${i}`,
  hostVeth: `veth${i}`,
  bridge: 'sl-br0',
  addresses: [`198.18.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`],
  bandwidth: { ingressRate: 1e7, egressRate: 1e7 },
  annotations: { 'sluice.dev/download-guarantee': '100kbit', 'sluice.dev/upload-guarantee': '100kbit', 'sluice.dev/download-priority': String(i % 8), 'sluice.dev/upload-priority': String(i % 8) },
  pod: { namespace: 'bench', name: `s${i}` },
  addedAt: 1_700_000_000_000 + i,
} as Attachment);

async function main(): Promise<void> {
  const store = new AttachmentStore(stateDir);
  for (let i = 0; i < pods; i++) await store.put(attachment(i));
  const loader = new PolicyLoader(new FilesSource([path.join(dir, 'host.yaml')]), [new CniSourceFactory(silentLogger)]);
  const first = await loader.load();
  if (!first.ok) throw new Error(JSON.stringify(first.issues));
  const stop = watching ? loader.follow(() => undefined) : undefined;
  if (stop) await loader.load();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await store.put(attachment(pods + r));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const loaded = await loader.load();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  }
  const at = (xs: number[], q: number): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)]!.toFixed(2);
  // CPU time as well as wall: the wall figure on a shared machine is mostly other processes.
  stop?.();
  console.log(`${watching ? 'following the records' : 'not following (--no-watch)'}: policy load beside ${pods}-${pods + rounds} pods, ${rounds} loads, ms median / p90: wall ${at(times, 0.5)} / ${at(times, 0.9)}, cpu ${at(cpu, 0.5)} / ${at(cpu, 0.9)} (load average ${loadavg()[0]!.toFixed(2)})`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
}

void main();
