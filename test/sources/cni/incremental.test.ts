// serve's load while it follows a named network reads again only the records its watch
// named (sources/cni/changes.ts, AttachmentStore.rescan). Proved against a full load: the
// same policy, workloads and unshaped pods as a loader that reads everything afresh,
// after every step of random sequences of ADDs, DELs, records replaced (with another
// address or the same) or written in place, stray files, and policy file changes
// (capacity, a file naming a pod, one selecting pods by a label they share).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { attachmentFileName, type Attachment } from '../../../src/cni/attachment';
import { AttachmentStore } from '../../../src/cni/store';
import { cniPod, policyLoader } from '../../support/sources';
import { seededRandom } from '../../support/randomPolicy';

let dir: string | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const GUARANTEES = ['1mbit', '2mbit', '5mbit', 'lots'];
const NETWORK = 'pods';

function hostYaml(state: string, capacity: string): string {
  return `apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: node }\nspec: { netns: sl-cnihost, bridge: cni0, ifb: sl-ifb0, subnet: 198.18.32.0/24, capacity: { download: ${capacity}, upload: ${capacity} }, overcommit: reject, cni: { stateDir: ${state}, network: ${NETWORK} } }\n`;
}

const podFile = (name: string, guarantee: string): string =>
  `apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: file-${name} }\nspec: { match: { pod: shop/${name} }, download: { guarantee: ${guarantee} }, upload: { guarantee: ${guarantee} } }\n`;

// Selects by a label many pods share: the pods' index (resolve.ts) must drop a changed or removed pod from it, and keep their order (the waiting reason names them).
const labelFile = (value: string): string =>
  `apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: file-shared }\nspec: { match: { cni: { labels: { sluice.dev/download-guarantee: ${value} } } }, download: { guarantee: 1mbit }, upload: { guarantee: 1mbit } }\n`;

describe('CNI records read per change (the watch names them) equal a full load', () => {
  it.each([1, 2, 3, 4, 5, 6])('random sequence, seed %i', async (seed) => {
    const next = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    dir = mkdtempSync(join(tmpdir(), 'sluice-incremental-'));
    const policy = join(dir, 'policy');
    const state = join(dir, 'state');
    mkdirSync(policy);
    writeFileSync(join(policy, 'host.yaml'), hostYaml(state, '20mbit'));
    const store = new AttachmentStore(state);
    const rescans = vi.spyOn(AttachmentStore.prototype, 'rescan');
    const followed = policyLoader([policy]);
    // As serve: the first load enables the cni source, following it opens the watch.
    expect((await followed.load()).ok).toBe(true);
    const stop = followed.follow(() => undefined);
    const live = new Map<string, Attachment>();
    let added = 0;
    const pod = (name: string, host: number): Attachment => cniPod(name, host, 1000 + ++added, { 'sluice.dev/download-guarantee': pick(GUARANTEES), 'sluice.dev/upload-guarantee': pick(GUARANTEES) });
    const recordPath = (a: Attachment): string => join(store.networkDir(NETWORK), attachmentFileName(a.containerId, a.ifname));
    try {
      for (let step = 0; step < 60; step++) {
        const names = [...live.keys()];
        const op = next();
        if (op < 0.35 || names.length === 0) {
          const name = `p${step}`;
          const a = pod(name, 10 + step);
          await store.put(a);
          live.set(name, a);
        } else if (op < 0.5) {
          const name = pick(names);
          await store.remove(NETWORK, { containerId: `ctr${name}`, ifname: 'eth0' });
          live.delete(name);
        } else if (op < 0.6) {
          // ADD again for the same pod: a new record under the same name (a rename over it),
          // sometimes with another address (a load keeps no workload of a record that changed).
          const name = pick(names);
          const a = { ...pod(name, (next() < 0.5 ? 10 : 100) + Number(name.slice(1))), addedAt: live.get(name)!.addedAt };
          await store.put(a);
          live.set(name, a);
        } else if (op < 0.7) {
          // Written in place by something else (same inode), perhaps within one clock tick.
          const name = pick(names);
          const a = { ...live.get(name)!, annotations: { 'sluice.dev/download-guarantee': pick(GUARANTEES) } };
          writeFileSync(recordPath(a), JSON.stringify(a));
          live.set(name, a);
        } else if (op < 0.75) {
          // Not records: a plugin's temporary file, the lock.
          writeFileSync(join(store.networkDir(NETWORK), `x.json.${step}.tmp`), '{');
          writeFileSync(join(store.networkDir(NETWORK), '.lock'), '');
          rmSync(join(store.networkDir(NETWORK), '.lock'));
        } else if (op < 0.85) {
          writeFileSync(join(policy, 'host.yaml'), hostYaml(state, pick(['10mbit', '20mbit', '50mbit'])));
        } else if (op < 0.9) {
          writeFileSync(join(policy, 'pod.yaml'), podFile(pick(names), pick(['1mbit', '3mbit'])));
        } else if (op < 0.95) {
          writeFileSync(join(policy, 'shared.yaml'), labelFile(pick(GUARANTEES)));
        } else {
          rmSync(join(policy, 'pod.yaml'), { force: true });
        }
        // Some steps land between two loads together (a burst served by one reload).
        if (next() < 0.3) continue;
        const incremental = await followed.load();
        const full = await policyLoader([policy]).load();
        expect(incremental, `seed ${seed}, step ${step}`).toEqual(full);
      }
      // The path under test was taken (not a full scan every time).
      expect(rescans.mock.calls.length).toBeGreaterThan(10);
    } finally {
      stop();
    }
  });
});
