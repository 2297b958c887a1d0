// Docker labels: the io.sluice.* labels of docker-compose.test.yml's containers mutated
// (values, keys, typos, containers duplicated, renamed, without an address), read through
// the Docker source from an in-memory daemon, merged with the Host (and sometimes a
// Container document naming one of them) and validated, resolved and compiled as `serve`
// does. Every finding must name its file:line or its container and label.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DockerSourceFactory } from '../../../src/sources/docker/source';
import type { DockerContainer } from '../../../src/sources/docker/model';
import { FakeEngine } from '../../sources/docker/fakeEngine';
import { PolicyLoader } from '../../../src/sources/loader';
import { silentLogger } from '../../../src/ports/logger';
import { regressionInputs, type FuzzTarget } from '../harness';
import { INTERESTING_STRINGS, isRecord, mutateText, type Rng } from '../mutate';
import { judgeCompile, judgeIssues, judgeThrown, MemoryFiles, REPO } from './common';

interface LabelledContainer {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly address?: string;
}

export interface DockerLabelsInput {
  readonly containers: readonly LabelledContainer[];
  /** A Container document file beside the Host, or none. */
  readonly extraFile?: string;
}

const HOST = readFileSync(join(REPO, 'policies', 'docker', 'host.yaml'), 'utf8');
const HOST_PATH = 'policies/docker/host.yaml';
const EXTRA_PATH = 'policies/docker/extra.yaml';

const LABEL_KEYS: readonly string[] = [
  'io.sluice.name',
  ...['download', 'upload'].flatMap((d) => ['guarantee', 'ceiling', 'priority', 'burst'].map((f) => `io.sluice.${d}.${f}`)),
  'io.sluice.', 'io.sluice.download', 'io.sluice.downlod.guarantee', 'io.sluice.download.guarantee.x', 'IO.SLUICE.name', 'io.sluice.upload.Guarantee', 'com.docker.compose.service', 'other.label',
];

const EXTRA_FILES: readonly string[] = [
  'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: web }\nspec:\n  match: { docker: { service: web } }\n  download: { guarantee: 5mbit }\n  upload: { guarantee: 5mbit }\n',
  'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: db }\nspec:\n  match: { docker: { name: sl-test_db_1 } }\n  download: { guarantee: 5mbit }\n  upload: { guarantee: 5mbit }\n',
  'apiVersion: sluice.dev/v1\nkind: Container\nmetadata: { name: tagged }\nspec:\n  match: { docker: { labels: { tier: gold } } }\n  download: { guarantee: 1mbit }\n  upload: { guarantee: 1mbit }\n',
];

/** docker-compose.test.yml's services as the daemon reports them (compose names, addresses on sl-dbr0). */
function composeContainers(): LabelledContainer[] {
  const compose = parse(readFileSync(join(REPO, 'docker-compose.test.yml'), 'utf8'), { merge: true }) as { services: Record<string, { labels?: Record<string, string> }> };
  return Object.entries(compose.services).map(([service, s], i) => ({ name: `sl-test_${service}_1`, labels: { ...(s.labels ?? {}), 'com.docker.compose.service': service }, address: `198.18.64.${10 + i}` }));
}

function mutateContainer(c: LabelledContainer, rng: Rng): LabelledContainer {
  const labels = { ...c.labels };
  const keys = Object.keys(labels);
  switch (rng.int(6)) {
    case 0:
    case 1: {
      const key = keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : rng.pick(LABEL_KEYS);
      labels[key] = rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : mutateText(labels[key] ?? '10mbit', rng);
      return { ...c, labels };
    }
    case 2:
      if (keys.length > 0) delete labels[rng.pick(keys)];
      return { ...c, labels };
    case 3:
      labels[rng.pick(LABEL_KEYS)] = rng.pick(['0', '7', '8', '1mbit', '100mbit', '1gbit', '64kib', 'web', '']);
      return { ...c, labels };
    case 4:
      return { ...c, name: rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : mutateText(c.name, rng) };
    default: {
      const { address: _gone, ...rest } = c;
      return rng.chance(0.5) ? rest : { ...c, address: rng.pick(['198.18.64.10', '198.18.64.255', '198.18.65.1', '10.0.0.1', '2001:2::1', 'x']) };
    }
  }
}

export function dockerLabelsTarget(): FuzzTarget<DockerLabelsInput> {
  return {
    name: 'docker-labels',
    describe: 'Docker labels: docker-compose.test.yml\'s io.sluice.* labels mutated, read by the Docker source from an in-memory daemon → merge with the Host, validate, resolve, compile',
    seeds: () => [{ containers: composeContainers() }, ...(regressionInputs('docker-labels') as DockerLabelsInput[])],
    generate(rng, seeds) {
      let containers = [...rng.pick(seeds).containers];
      for (let n = 1 + rng.int(3); n > 0; n--) {
        const op = rng.int(10);
        if (op < 7 && containers.length > 0) {
          const i = rng.int(containers.length);
          containers[i] = mutateContainer(containers[i]!, rng);
        } else if (op < 8 && containers.length > 0) containers.push(rng.chance(0.5) ? rng.pick(containers) : { ...rng.pick(containers), name: `sl-test_extra${rng.int(5)}_1` });
        else if (op < 9 && containers.length > 0) containers = containers.filter((_, i) => i !== rng.int(containers.length));
        else containers.push({ name: 'plain', labels: {}, address: '198.18.64.40' });
      }
      return { containers, ...(rng.chance(0.2) ? { extraFile: rng.chance(0.7) ? rng.pick(EXTRA_FILES) : mutateText(rng.pick(EXTRA_FILES), rng) } : {}) };
    },
    async run(input) {
      const containers: DockerContainer[] = input.containers.map((c, i) => ({ id: `id${i}`, name: c.name, labels: c.labels, pid: 100_000 + i, endpoints: [{ network: 'sl-test_sl-test', bridge: 'sl-dbr0', ...(c.address ? { address: c.address } : {}) }] }));
      const files = [{ path: HOST_PATH, text: HOST }, ...(input.extraFile !== undefined ? [{ path: EXTRA_PATH, text: input.extraFile }] : [])];
      const factory = new DockerSourceFactory({ logger: silentLogger, engineFor: (endpoint) => Object.assign(new FakeEngine(endpoint), { containers }) });
      const loader = new PolicyLoader(new MemoryFiles(files), [factory]);
      let loaded;
      try {
        loaded = await loader.load();
      } catch (e) {
        return judgeThrown(e, 'loading the labels');
      }
      if (!loaded.ok) {
        const names = new Set(input.containers.map((c) => c.name));
        // A label's finding names the container and the label (or the field it fills).
        const byLabel = (i: { file: string; path: string }): boolean => [...names].some((n) => i.file === `docker container ${n} (labels)`) && i.path.trim() !== '';
        return judgeIssues(loaded.issues, files.map((f) => f.path), byLabel) ?? { outcome: 'invalid, every finding located' };
      }
      return judgeCompile(loaded.policy);
    },
    toJson: (input) => input,
    fromJson: (json) => {
      if (!isRecord(json) || !Array.isArray(json['containers'])) throw new Error('not a docker-labels input');
      return json as unknown as DockerLabelsInput;
    },
  };
}
