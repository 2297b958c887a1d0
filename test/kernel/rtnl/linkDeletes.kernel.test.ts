// Link deletions go out as one group delete per run: every link asked for goes, links
// already gone count as deleted, and devices Sluice was not asked to delete stay,
// whatever group they are in.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RtnlKernel } from '../../../src/kernel/rtnl/port';
import { MAX_LINKS_PER_GROUP } from '../../../src/kernel/rtnl/linkDeletes';
import type { Operation } from '../../../src/tc/operation';
import type { LinkObject } from '../../../src/tc/model';
import { describeKernel, removeNamespaces, sh } from '../../support/kernel';

const NS = 'sl-ld-host';
const PEERS = 'sl-ld-peers';
/** More than one run holds, so two group deletes follow each other. */
const OURS = MAX_LINKS_PER_GROUP + 20;

const veth = (i: number): LinkObject => ({ type: 'link', netns: NS, name: `sl-v${i}`, up: true, master: 'sl-br0', spec: { kind: 'veth', peerName: `sl-p${i}`, peerNetns: PEERS } });
const deleteOf = (o: LinkObject): Operation => ({ op: 'delete', object: o });

interface ShownLink {
  readonly ifname: string;
  readonly group: string;
}

async function links(): Promise<ShownLink[]> {
  return JSON.parse(await sh('ip', ['-n', NS, '-j', 'link', 'show'])) as ShownLink[];
}

describeKernel('link deletes gathered into group deletes (real kernel)', [], () => {
  let kernel: RtnlKernel;

  beforeAll(async () => {
    await removeNamespaces('sl-ld-');
    await sh('ip', ['netns', 'add', NS]);
    await sh('ip', ['netns', 'add', PEERS]);
    const lines = ['link add sl-br0 type bridge', 'link set sl-br0 up'];
    for (let i = 0; i < OURS; i++) lines.push(`link add sl-v${i} type veth peer name sl-p${i} netns ${PEERS}`, `link set sl-v${i} master sl-br0 up`);
    // Someone else's: one in the default group, one in a group of their own, one on our bridge.
    lines.push('link add theirs0 type veth peer name theirs0p', 'link add theirs7 type veth peer name theirs7p', 'link set theirs7 group 7', 'link set theirs7p group 7');
    lines.push('link add theirsbr type veth peer name theirsbrp', 'link set theirsbr master sl-br0');
    const dir = mkdtempSync(join(tmpdir(), 'sl-ld-'));
    try {
      writeFileSync(join(dir, 'batch'), `${lines.join('\n')}\n`);
      await sh('ip', ['-n', NS, '-batch', join(dir, 'batch')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    kernel = new RtnlKernel();
  });

  afterAll(async () => {
    await kernel?.close();
    await removeNamespaces('sl-ld-');
  });

  it('deletes every link asked for (one already gone among them) and nothing else', async () => {
    await sh('ip', ['-n', NS, 'link', 'del', 'sl-v3']);
    const plan = Array.from({ length: OURS }, (_, i) => deleteOf(veth(i)));
    const report = await kernel.execute(plan);
    expect(report.failed).toBeUndefined();
    expect(report.applied).toHaveLength(OURS);
    const left = await links();
    expect(left.map((l) => l.ifname).sort()).toEqual(['lo', 'sl-br0', 'theirs0', 'theirs0p', 'theirs7', 'theirs7p', 'theirsbr', 'theirsbrp']);
    expect(left.find((l) => l.ifname === 'theirs7')!.group).toBe('7');
    expect(await sh('ip', ['-n', PEERS, '-o', 'link', 'show'])).not.toContain('sl-p');
  });

  it('a bridge and its remaining port go in one run, and deleting them again is success', async () => {
    const bridge: LinkObject = { type: 'link', netns: NS, name: 'sl-br0', up: true, spec: { kind: 'bridge' } };
    const port: LinkObject = { type: 'link', netns: NS, name: 'theirsbr', up: true, master: 'sl-br0', spec: { kind: 'veth', peerName: 'theirsbrp', peerNetns: NS } };
    for (let round = 0; round < 2; round++) {
      const report = await kernel.execute([deleteOf(port), deleteOf(bridge)]);
      expect(report.failed).toBeUndefined();
      expect(report.applied).toHaveLength(2);
    }
    expect((await links()).map((l) => l.ifname).sort()).toEqual(['lo', 'theirs0', 'theirs0p', 'theirs7', 'theirs7p']);
  });
});
