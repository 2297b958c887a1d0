// What a test wrote, read back without Sluice's parser, units or compiler: the judge's
// inputs for the kernel tests (#27: an oracle fed from the compiled classes agrees with
// the kernel whatever bug moved both). The policy text is read as plain YAML and its
// rates with the few units the tests write; labels and annotations likewise.
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { allocateTree } from '../../src/allocate/hierarchy';
import { allocate } from '../../src/allocate/oracle';
import { writtenJudge, type Judge, type WrittenContainer, type WrittenDirection, type WrittenPolicy } from '../../src/measure/judge';
import { writtenTreeJudge, type WrittenGroupDirection, type WrittenTree } from '../../src/measure/treeJudge';
import type { Direction } from '../../src/tc/model';
import { bitsPerSec, type BitsPerSec } from '../../src/units/units';
import type { RandomDraw } from './randomPolicy';
import type { TreeDraw } from './randomTree';

/** tc's decimal rate units, as the tests write them (kbit = 1,000 bit/s). */
const RATE_UNITS: Readonly<Record<string, number>> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** "30mbit" → 30e6; anything a test does not write is refused, not guessed. */
export function writtenRate(text: unknown): BitsPerSec {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(String(text));
  if (!m) throw new Error(`the test wrote a rate "${String(text)}" that its judge does not read (use bit, kbit, mbit or gbit)`);
  return bitsPerSec(Number(m[1]) * RATE_UNITS[m[2]!]!);
}

type Fields = Readonly<Record<string, unknown>>;

/** A group's direction: every field may be left out (the judge states the defaults). */
function groupDirection(fields: Fields = {}): WrittenGroupDirection {
  return {
    ...(fields['guarantee'] !== undefined ? { guarantee: writtenRate(fields['guarantee']) } : {}),
    ...(fields['ceiling'] !== undefined ? { ceiling: writtenRate(fields['ceiling']) } : {}),
    ...(fields['priority'] !== undefined ? { priority: Number(fields['priority']) } : {}),
  };
}

/** A container's direction: the same fields, a guarantee always written. */
const direction = (fields: Fields): WrittenDirection => ({ ...groupDirection(fields), guarantee: writtenRate(fields['guarantee']) });

interface Doc {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string };
  readonly spec?: Fields;
}

const documents = (text: string): Doc[] => parseAllDocuments(text).map((d) => d.toJS() as Doc);

/** A flat policy's text (a Host and its Containers), as its author wrote it. */
export const writtenFromYaml = (text: string): WrittenPolicy => flatFromDocuments(documents(text));

/** A policy's text with its Groups (a Host, Groups, Containers naming their group), as its author wrote it. */
export function writtenTreeFromYaml(text: string): WrittenTree {
  const docs = documents(text);
  const flat = flatFromDocuments(docs);
  const groupOf = new Map(docs.filter((d) => d.kind === 'Container').map((d) => [d.metadata!.name!, d.spec!['group'] as string | undefined]));
  return {
    capacity: flat.capacity,
    groups: docs
      .filter((d) => d.kind === 'Group')
      .map((d) => {
        const parent = d.spec?.['parent'] as string | undefined;
        return { name: d.metadata!.name!, ...(parent !== undefined ? { parent } : {}), download: groupDirection(d.spec?.['download'] as Fields | undefined), upload: groupDirection(d.spec?.['upload'] as Fields | undefined) };
      }),
    containers: flat.containers.map((c) => {
      const group = groupOf.get(c.name);
      return { ...c, ...(group !== undefined ? { group } : {}) };
    }),
  };
}

function flatFromDocuments(docs: readonly Doc[]): WrittenPolicy {
  const host = docs.find((d) => d.kind === 'Host');
  const capacity = host?.spec?.['capacity'] as Fields | undefined;
  if (!capacity) throw new Error('the policy text has no Host with a capacity');
  return {
    capacity: { download: writtenRate(capacity['download']), upload: writtenRate(capacity['upload']) },
    containers: docs
      .filter((d) => d.kind === 'Container')
      .map((d): WrittenContainer => ({ name: d.metadata!.name!, download: direction(d.spec!['download'] as Fields), upload: direction(d.spec!['upload'] as Fields) })),
  };
}

/** A drawn node's rates (kbit/s), the same both ways. */
const drawnRates = (n: { readonly guaranteeKbit: number; readonly ceilingKbit: number | undefined; readonly priority: number }): WrittenDirection => ({
  guarantee: bitsPerSec(n.guaranteeKbit * 1e3),
  priority: n.priority,
  ...(n.ceilingKbit !== undefined ? { ceiling: bitsPerSec(n.ceilingKbit * 1e3) } : {}),
});

/** A random draw: its numbers, in kbit/s, before any policy text was made of them. */
export function writtenFromDraw(draw: RandomDraw): WrittenPolicy {
  const link = bitsPerSec(draw.linkMbit * 1e6);
  return {
    capacity: { download: link, upload: link },
    containers: draw.containers.map((c) => ({ name: c.name, download: drawnRates(c), upload: drawnRates(c) })),
  };
}

/** A random hierarchical draw: its groups and containers, in kbit/s, before any policy text was made of them. */
export function writtenFromTreeDraw(draw: TreeDraw): WrittenTree {
  const link = bitsPerSec(draw.linkMbit * 1e6);
  return {
    capacity: { download: link, upload: link },
    groups: draw.groups.map((g) => ({ name: g.name, ...(g.parent !== undefined ? { parent: g.parent } : {}), download: drawnRates(g), upload: drawnRates(g) })),
    containers: draw.containers.map((c) => ({ name: c.name, ...(c.group !== undefined ? { group: c.group } : {}), download: drawnRates(c), upload: drawnRates(c) })),
  };
}

/**
 * Containers from key/value maps (Docker labels, pod annotations): `key(dir, field)` names
 * the entry for a direction's guarantee, ceiling or priority (the tests write a guarantee
 * for every container, so no source default stands in).
 */
export function writtenFromMaps(capacity: BitsPerSec, maps: readonly { readonly name: string; readonly entries: Readonly<Record<string, string>> }[], key: (dir: Direction, field: 'guarantee' | 'ceiling' | 'priority') => string): WrittenPolicy {
  return {
    capacity: { download: capacity, upload: capacity },
    containers: maps.map(({ name, entries }) => {
      const of = (dir: Direction): WrittenDirection => {
        const fields = Object.fromEntries((['guarantee', 'ceiling', 'priority'] as const).map((f) => [f, entries[key(dir, f)]]).filter(([, v]) => v !== undefined));
        return direction(fields);
      };
      return { name, download: of('download'), upload: of('upload') };
    }),
  };
}

/**
 * A compose file's services as their io.sluice.* labels write them (the Docker source's
 * keys: io.sluice.name, io.sluice.<direction>.guarantee|ceiling|priority), on a link of
 * `capacity`.
 */
export function writtenFromComposeLabels(composeText: string, capacity: BitsPerSec): WrittenPolicy {
  const services = (parse(composeText, { merge: true }) as { services: Record<string, { labels?: Record<string, string> }> }).services;
  const labelled = Object.entries(services).map(([service, s]) => ({ name: s.labels?.['io.sluice.name'] ?? service, entries: s.labels ?? {} }));
  return writtenFromMaps(capacity, labelled, (dir, field) => `io.sluice.${dir}.${field}`);
}

/** The judge of a policy file as it is on disk, optionally edited as the test edits it before parsing. */
export function judgeOfFile(path: string, edit: (text: string) => string = (t) => t): Judge {
  return writtenJudge(writtenFromYaml(edit(readFileSync(path, 'utf8'))), allocate);
}

export const judgeOf = (written: WrittenPolicy): Judge => writtenJudge(written, allocate);

export const treeJudgeOf = (written: WrittenTree): Judge => writtenTreeJudge(written, allocateTree);

/** The judge of policy files with groups as they are on disk, read as one text (the demo: demo.yaml and tenants.yaml). */
export const treeJudgeOfFiles = (paths: readonly string[]): Judge => treeJudgeOf(writtenTreeFromYaml(paths.map((p) => readFileSync(p, 'utf8')).join('\n---\n')));
