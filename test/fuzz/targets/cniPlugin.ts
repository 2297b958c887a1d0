// CNI stdin and environment: the invocations a runtime sends mutated (the configuration
// as a structure and as text, the CNI_* variables dropped, emptied, garbled), run through
// the plugin's entry in this process with the state directory in memory, and 1 case in N
// as bin/sluice-cni.js with a temporary state directory: exit 0 or 1, one JSON object on
// stdout, an error in the spec's shape with a code it defines and a message naming the
// variable or field, and no record written outside the state directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cni/main';
import { regressionInputs, type FuzzTarget } from '../harness';
import { INTERESTING_STRINGS, isRecord, mutateText, type Rng } from '../mutate';
import { CNI_BIN, runNode } from './common';
import { ENV_KEYS, INVOCATIONS, judgeAnswer, MemoryStore, memoryDeps, mutateStdin, parsed, type CniInput } from './cniShared';

function mutateEnv(e: Readonly<Record<string, string>>, rng: Rng): Record<string, string> {
  const out = { ...e };
  const key = rng.pick(ENV_KEYS);
  switch (rng.int(4)) {
    case 0:
      delete out[key];
      break;
    case 1:
      out[key] = rng.pick(INTERESTING_STRINGS);
      break;
    case 2:
      out[key] = mutateText(out[key] ?? '', rng);
      break;
    default:
      out['CNI_COMMAND'] = rng.pick(['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS', 'add', 'UPDATE', '']);
  }
  return out;
}

export function cniPluginTarget(): FuzzTarget<CniInput> {
  let dir: string | undefined;
  return {
    name: 'cni-plugin',
    describe: 'CNI stdin and environment: ADD/DEL/CHECK/VERSION/GC/STATUS invocations mutated → the plugin\'s entry in process (state in memory); 1 case in N as bin/sluice-cni.js',
    seeds: () => [...INVOCATIONS, ...(regressionInputs('cni-plugin') as CniInput[])],
    generate(rng, seeds) {
      const base = rng.pick(seeds);
      const r = rng.int(10);
      return { env: r >= 6 ? mutateEnv(base.env, rng) : base.env, stdin: r < 8 ? mutateStdin(base.stdin, rng) : base.stdin };
    },
    async run(input) {
      const store = new MemoryStore('/run/sluice/cni');
      // CHECK, DEL and GC meet a pod recorded by the runtime's ADD before them.
      if (['CHECK', 'DEL', 'GC'].includes(input.env['CNI_COMMAND'] ?? '')) await main(INVOCATIONS[0]!.stdin, INVOCATIONS[0]!.env, () => undefined, memoryDeps(store));
      let out = '';
      let code: number;
      try {
        code = await main(input.stdin, input.env, (t) => (out += t), memoryDeps(store));
      } catch (e) {
        return { failure: 'crash', detail: `main threw: ${(e as Error).stack ?? String(e)}` };
      }
      if (store.escaped) return { failure: 'crash', detail: `an attachment record would be written outside the state directory: ${store.escaped}` };
      return judgeAnswer(input.env['CNI_COMMAND'], code, out);
    },
    runAsProcess(input) {
      dir ??= mkdtempSync(join(tmpdir(), 'sl-fuzz-cni-'));
      rmSync(dir, { recursive: true, force: true });
      const value = parsed(input.stdin);
      // The process writes records for real: keep them in a directory of this run, and
      // do not let CHECK read the kernel in whatever namespace the case names.
      const stdin = isRecord(value) ? JSON.stringify({ ...value, stateDir: join(dir, 'state'), controlSocket: join(dir, 'control.sock') }) : input.stdin;
      const command = input.env['CNI_COMMAND'] === 'CHECK' ? 'DEL' : input.env['CNI_COMMAND'];
      const r = runNode(CNI_BIN, [], { env: { ...input.env, ...(command !== undefined ? { CNI_COMMAND: command } : {}), PATH: process.env['PATH'] ?? '' }, input: stdin, timeoutMs: 20_000 });
      if (r.error) return { failure: 'hang', detail: `bin/sluice-cni.js: ${r.error}` };
      const judged = judgeAnswer(command, r.code, r.stdout);
      return 'failure' in judged ? { failure: judged.failure, detail: `bin/sluice-cni.js: ${judged.detail} ${r.stderr.slice(0, 500)}` } : { outcome: `process: ${judged.outcome}` };
    },
    toJson: (input) => input,
    fromJson: (json) => json as CniInput,
    close: () => dir && rmSync(dir, { recursive: true, force: true }),
  };
}
