// A Docker container's port on the bridge, which the Engine API does not give: the source
// asks the kernel (VethPeers) for the host-side end of each container's eth0, in the Host's
// namespace, so compile can hook it (traffic between containers on the bridge shaped).
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hostDocument } from '../../../src/policy/schema';
import type { LogLevel, Logger } from '../../../src/ports/logger';
import { endKey, type VethPeers, type WorkloadEnd } from '../../../src/ports/vethPeers';
import { DockerSourceFactory } from '../../../src/sources/docker/source';
import type { HostSections } from '../../../src/sources/source';
import { DOCKER_HOST_YAML, dockerContainer, FakeEngine } from './fakeEngine';

/** The fake engine's Host, parsed as the loader parses it. */
const HOST: HostSections = hostDocument.parse(parse(DOCKER_HOST_YAML)).spec;

class Peers implements VethPeers {
  asked: { ends: readonly WorkloadEnd[]; hostNetns: string }[] = [];
  constructor(private readonly answer: (end: WorkloadEnd) => string | undefined | Error) {}
  async hostEnds(ends: readonly WorkloadEnd[], hostNetns: string): Promise<ReadonlyMap<string, string>> {
    this.asked.push({ ends, hostNetns });
    const out = new Map<string, string>();
    for (const e of ends) {
      const a = this.answer(e);
      if (a instanceof Error) throw a;
      if (a !== undefined) out.set(endKey(e), a);
    }
    return out;
  }
}

class Recording implements Logger {
  lines: string[] = [];
  log(level: LogLevel, event: string): void {
    this.lines.push(`${level} ${event}`);
  }
}

function sourceAndEngine(peers: VethPeers, logger: Logger = new Recording()) {
  const engine = new FakeEngine();
  engine.containers = [dockerContainer('web', '198.18.64.4'), dockerContainer('api', '198.18.64.5'), dockerContainer('unaddressed', undefined)];
  return { source: new DockerSourceFactory({ logger, engineFor: () => engine, vethPeers: peers }).fromHost(HOST)!, engine };
}
const sourceWith = (peers: VethPeers, logger?: Logger) => sourceAndEngine(peers, logger).source;
const portOf = (e: WorkloadEnd): string => `veth-${e.netns.split('/')[2]}`;

describe("the Docker source finds each container's port on the bridge", () => {
  it("asks for each addressed container's eth0 in the Host's namespace and reports its host-side veth", async () => {
    const peers = new Peers(portOf);
    const snapshot = await sourceWith(peers).load();
    expect(peers.asked).toHaveLength(1);
    expect(peers.asked[0]!.hostNetns).toBe('sl-dk');
    expect(peers.asked[0]!.ends.map((e) => e.dev)).toEqual(['eth0', 'eth0']);
    const byName = new Map(snapshot.workloads.map((w) => [w.name, w.hostDevice]));
    expect(byName.get('web')).toMatch(/^veth-\d+$/);
    expect(byName.get('api')).toMatch(/^veth-\d+$/);
    expect(byName.get('unaddressed')).toBeUndefined();
  });

  it('asks again only for containers new since the last load (or not found then); a running one keeps its port', async () => {
    const peers = new Peers(portOf);
    const { source, engine } = sourceAndEngine(peers);
    const first = await source.load();
    engine.containers = [...engine.containers, dockerContainer('batch', '198.18.64.6')];
    const second = await source.load();
    expect(peers.asked.map((a) => a.ends.length)).toEqual([2, 1]);
    expect(second.workloads.find((w) => w.name === 'web')!.hostDevice).toBe(first.workloads.find((w) => w.name === 'web')!.hostDevice);
    expect(second.workloads.find((w) => w.name === 'batch')!.hostDevice).toMatch(/^veth-\d+$/);
    await source.load();
    expect(peers.asked).toHaveLength(2);
  });

  it('leaves a container without a port when the kernel has none for it', async () => {
    const snapshot = await sourceWith(new Peers(() => undefined)).load();
    expect(snapshot.workloads.every((w) => w.hostDevice === undefined)).toBe(true);
  });

  it('still loads when the lookup fails, and says so', async () => {
    const logger = new Recording();
    const snapshot = await sourceWith(new Peers(() => new Error('ENOENT')), logger).load();
    expect(snapshot.workloads.map((w) => w.name)).toEqual(['web', 'api', 'unaddressed']);
    expect(snapshot.workloads.every((w) => w.hostDevice === undefined)).toBe(true);
    expect(logger.lines).toEqual(["warn docker containers' ports on the bridge not found: traffic between them is not shaped until the next load"]);
  });
});
