import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesSource } from '../../src/sources/files/source';
import { PolicyLoader } from '../../src/sources/loader';
import type { HostSections, SourceSnapshot, Stop, WorkloadSource, WorkloadSourceFactory } from '../../src/sources/source';

/** A source that records who follows it; enabled by the Host's docker section (the one source label the schema knows). */
class RecordingSource implements WorkloadSource {
  readonly name = 'docker';
  readonly noun = 'test workload';
  following = 0;
  async load(): Promise<SourceSnapshot> {
    return { documents: [], issues: [], workloads: [{ source: 'docker', id: '1', name: 'app', addresses: { v4: ['198.18.64.9'], v6: [] }, labels: {} }], origin: 'memory' };
  }
  follow(): Stop {
    this.following++;
    return () => this.following--;
  }
}

const HOST = (docker: boolean): string =>
  `apiVersion: sluice.dev/v1\nkind: Host\nmetadata: { name: t }\nspec:\n  netns: sl-t\n  bridge: sl-tbr0\n  subnet: 198.18.64.0/24\n  capacity: { download: 100mbit, upload: 100mbit }\n${docker ? '  docker: {}\n' : ''}---\napiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: app }\nspec:\n  match: { ${docker ? 'docker: { name: app }' : 'ip: 198.18.64.9'} }\n  download: { guarantee: 1mbit }\n  upload: { guarantee: 1mbit }\n`;

describe('the policy loader', () => {
  let dir: string;
  const source = new RecordingSource();
  const factory: WorkloadSourceFactory = { label: 'docker', fromHost: (h: HostSections) => (h.docker ? source : undefined) };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sl-loader-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the sources the Host enables, resolves matches against their workloads, and follows only those', async () => {
    writeFileSync(join(dir, 'p.yaml'), HOST(true));
    const loader = new PolicyLoader(new FilesSource([dir]), [factory]);
    const first = await loader.load();
    if (!first.ok) throw new Error(JSON.stringify(first.issues));
    expect(first.policy.containers.map((c) => [c.name, c.address, c.workload?.name])).toEqual([['app', '198.18.64.9', 'app']]);
    const stop = loader.follow(() => undefined);
    expect(source.following).toBe(1);

    writeFileSync(join(dir, 'p.yaml'), HOST(false));
    const second = await loader.load();
    expect(second.ok).toBe(true);
    expect(source.following).toBe(0);

    writeFileSync(join(dir, 'p.yaml'), HOST(true));
    await loader.load();
    expect(source.following).toBe(1);
    stop();
    expect(source.following).toBe(0);
  });
});
