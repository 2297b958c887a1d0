// Policy files, YAML and JSON: the examples in policies/ mutated as structures (fields
// replaced, removed, added from the schema's names, renamed, moved, nested) and as text,
// alone and together. Validation must locate every finding (file:line:column); what
// validates must compile and diff. A subset runs `sluice validate` and `sluice plan` on
// the files written to disk: exit statuses the README documents, no internal error.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parsePolicyTexts } from '../../../src/policy/load';
import { regressionInputs, type CaseResult, type FuzzTarget } from '../harness';
import { isRecord, mutateStructure, mutateText, type Rng } from '../mutate';
import { judgeCliExit, judgeCompile, judgeIssues, REPO, runNode, schemaKeys, SLUICE_BIN } from './common';

type Format = 'yaml' | 'json';

export interface PolicyFilesInput {
  readonly files: readonly { readonly path: string; readonly text: string }[];
}

const example = (rel: string): string => readFileSync(join(REPO, 'policies', rel), 'utf8');

/** The documents of a YAML text as plain values (undefined when it does not parse cleanly). */
function documentsOf(text: string): unknown[] | undefined {
  try {
    const docs = parseAllDocuments(text, { logLevel: 'error' });
    if (docs.some((d) => d.errors.length > 0)) return undefined;
    return docs.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown);
  } catch {
    return undefined;
  }
}

/** The example policies as file sets: YAML as written; JSON one document per file. */
function exampleSets(format: Format): PolicyFilesInput[] {
  const sets = [['demo.yaml'], ['demo.yaml', 'host-agent.yaml', 'nightly-window.yaml'], ['docker/host.yaml'], ['docker/host.yaml', 'host-agent.yaml']];
  return sets.map((names) => {
    if (format === 'yaml') return { files: names.map((n) => ({ path: `fuzz/${basename(n)}`, text: example(n) })) };
    const docs = names.flatMap((n) => documentsOf(example(n)) ?? []).filter((d) => d !== null);
    return { files: docs.map((d, i) => ({ path: `fuzz/doc-${i}.json`, text: JSON.stringify(d, null, 2) })) };
  });
}

function serialize(docs: readonly unknown[], format: Format, rng: Rng): string {
  if (format === 'json') return JSON.stringify(docs[0], null, rng.chance(0.5) ? 2 : undefined) ?? 'null';
  return docs.map((d) => stringify(d)).join('---\n');
}

function mutateFile(text: string, format: Format, rng: Rng, keys: readonly string[], donors: readonly unknown[]): string {
  let out = text;
  if (rng.chance(0.6)) {
    const docs = format === 'json' ? parseJson(out) : documentsOf(out);
    if (docs && docs.length > 0) {
      const i = rng.int(docs.length);
      docs[i] = mutateStructure(docs[i], rng, keys, donors);
      // A document repeated (duplicate names) or dropped.
      if (format === 'yaml' && rng.chance(0.1)) docs.splice(rng.int(docs.length + 1), 0, rng.pick(donors));
      if (format === 'yaml' && rng.chance(0.05) && docs.length > 1) docs.splice(rng.int(docs.length), 1);
      try {
        out = serialize(docs, format, rng);
      } catch {
        // A value the serializer refuses: mutate the text instead.
      }
      if (rng.chance(0.8)) return out;
    }
  }
  return mutateText(out, rng);
}

function parseJson(text: string): unknown[] | undefined {
  try {
    return [JSON.parse(text) as unknown];
  } catch {
    return undefined;
  }
}

export function policyFilesTarget(format: Format): FuzzTarget<PolicyFilesInput> {
  const name = `policy-${format}`;
  const keys = schemaKeys();
  let donors: unknown[] | undefined;
  let dir: string | undefined;
  return {
    name,
    describe: `policy files (${format.toUpperCase()}): the examples in policies/ mutated as structures and as text → parse, validate, compile, diff; 1 case in N as \`sluice validate\` + \`sluice plan\``,
    seeds: () => [...exampleSets(format), ...(regressionInputs(name) as PolicyFilesInput[])],
    generate(rng, seeds) {
      donors ??= seeds.flatMap((s) => s.files.flatMap((f) => (format === 'json' ? parseJson(f.text) : documentsOf(f.text)) ?? [])).filter(isRecord);
      const base = rng.pick(seeds);
      const files = base.files.map((f) => ({ ...f }));
      for (let n = rng.chance(0.2) ? 2 : 1; n > 0 && files.length > 0; n--) {
        const i = rng.int(files.length);
        files[i] = { path: files[i]!.path, text: mutateFile(files[i]!.text, format, rng, keys, donors) };
      }
      // The same file twice, under another name: every duplicate must cite both places.
      if (rng.chance(0.05) && files.length > 0) files.push({ path: `fuzz/copy.${format}`, text: rng.pick(files).text });
      return { files };
    },
    async run(input) {
      const result = parsePolicyTexts(input.files);
      if (!result.ok) return judgeIssues(result.issues, input.files.map((f) => f.path)) ?? { outcome: 'invalid, every finding located' };
      return judgeCompile(result.policy);
    },
    runAsProcess(input): CaseResult {
      dir ??= mkdtempSync(join(tmpdir(), `sl-fuzz-${name}-`));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      input.files.forEach((f, i) => writeFileSync(join(dir!, `${i}-${basename(f.path)}`), f.text));
      const validate = runNode(SLUICE_BIN, ['validate', dir, '-o', 'json'], { timeoutMs: 20_000 });
      const bad = judgeCliExit('sluice validate', validate);
      if (bad) return bad;
      const valid = parsePolicyTexts(readdirSync(dir).sort().map((f) => ({ path: join(dir!, f), text: readFileSync(join(dir!, f), 'utf8') }))).ok;
      if ((validate.code === 0) !== valid) return { failure: 'exit-status', detail: `sluice validate exited ${validate.code} for a policy that is ${valid ? 'valid' : 'invalid'}` };
      if (!valid) return { outcome: 'process: validate 1' };
      const plan = runNode(SLUICE_BIN, ['plan', dir, '--against', 'empty', '-o', 'json'], { timeoutMs: 20_000 });
      return judgeCliExit('sluice plan', plan) ?? { outcome: `process: validate 0, plan ${plan.code}` };
    },
    toJson: (input) => input,
    fromJson: (json) => json as PolicyFilesInput,
    close: () => dir && rmSync(dir, { recursive: true, force: true }),
  };
}
