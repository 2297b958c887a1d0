// bench/fuzz: every fuzz target of test/fuzz/targets at scale (100,000 cases each by
// default): policy files (YAML, JSON), Docker labels, CNI pod annotations, CNI stdin and
// environment, netlink decoders. A failure is a crash (an exception that is not a typed
// SluiceError or finding), a hang (a case over 1 s, also when run alone), a finding or
// error without a location, or an exit status the README (or, for the CNI plugin, the
// spec) does not document. Failing inputs are written to /tmp (`--save`: into
// test/fuzz/corpus/<target>/regressions/, to keep as regression cases once fixed).
// Runs the built CLI for the process subset: compiles dist/ first.
// Run: npx tsx bench/fuzz.ts [--cases 100000] [--target name] [--seed n] [--process-every 2000] [--save]

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { regressionDir, regressionInputs, runTarget, type TargetReport } from '../test/fuzz/harness';
import { TARGETS } from '../test/fuzz/targets';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'fuzz',
  usage: `bench/fuzz: every fuzz target of test/fuzz/targets at scale; prints failures (crashes, hangs, findings without a location, undocumented exit statuses)
  npx tsx bench/fuzz.ts [options]   (compiles dist/ first; CPU only, no lock)
  --cases N          cases per target (100000)
  --target NAME      this target only (all)
  --seed N           first seed (random)
  --process-every N  one case in N also through the built CLI (2000)
  --save             failing inputs into test/fuzz/corpus/<target>/regressions/ (default: /tmp)
  --help             this text`,
  switches: ['--save'],
  valued: ['--cases', '--target', '--seed', '--process-every'],
});

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const cases = Number(arg('cases') ?? 100_000);
const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
const processEvery = Number(arg('process-every') ?? 2000);
const only = arg('target');
const save = process.argv.includes('--save');

/** The process cases run bin/sluice.js and bin/sluice-cni.js, which load dist/. */
function buildDist(): void {
  const r = spawnSync('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
}

function line(r: TargetReport, regressions: number): string {
  const kinds = r.failures.reduce<Record<string, number>>((m, f) => ({ ...m, [f.kind]: (m[f.kind] ?? 0) + 1 }), {});
  const top = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([o, n]) => `${o} ${((100 * n) / (r.cases + r.processRuns)).toFixed(0)}%`).join('; ');
  return `| ${r.target} | ${r.cases.toLocaleString('en')} | ${r.processRuns} | ${regressions} | ${r.failures.length}${r.failures.length > 0 ? ` (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''} | ${Math.round(r.cases / r.seconds).toLocaleString('en')} | ${r.slowestMs.toFixed(0)}${r.slowOnlyUnderLoad.cases > 0 ? ` (${r.slowOnlyUnderLoad.cases} over 1 s in the run, ≤ ${r.slowOnlyUnderLoad.aloneMs.toFixed(0)} alone)` : ''} | ${top} |`;
}

async function main(): Promise<void> {
  const names = only ? [only] : Object.keys(TARGETS);
  for (const n of names) if (!TARGETS[n]) throw new Error(`no target ${n}; there are ${Object.keys(TARGETS).join(', ')}`);
  process.stdout.write(`fuzz: ${cases.toLocaleString('en')} cases per target, seed ${seed}, every ${processEvery}th also as a process; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  if (processEvery > 0) buildDist();
  const out = save ? undefined : mkdtempSync(join(tmpdir(), 'sl-fuzz-found-'));
  const rows: string[] = [];
  let failed = 0;
  for (const name of names) {
    const regressions = regressionInputs(name);
    const replayed = regressions.length > 0 ? await runTarget(name, { cases: 0, seed, replay: regressions }) : undefined;
    const report = await runTarget(name, { cases, seed, processEvery });
    const failures = [...(replayed?.failures ?? []).map((f) => ({ ...f, detail: `regression case ${f.index}: ${f.detail}` })), ...report.failures];
    rows.push(line({ ...report, failures }, regressions.length));
    process.stdout.write(`${name}: ${report.cases} cases in ${report.seconds.toFixed(1)} s, ${failures.length} failures\n`);
    failures.forEach((f, i) => {
      const dir = out ?? regressionDir(name);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${save ? '' : `${name}-`}found-${seed}-${f.index}-${i}.json`);
      writeFileSync(file, `${JSON.stringify({ found: `${f.kind}: ${f.detail.split('\n')[0]} (bench/fuzz seed ${seed}, case ${f.index})`, input: f.input }, null, 1)}\n`);
      process.stdout.write(`  ${f.kind} at case ${f.index}: ${f.detail.split('\n').slice(0, 3).join(' / ').slice(0, 400)}\n  → ${file}\n`);
    });
    failed += failures.length;
  }
  process.stdout.write(`\n| target | cases | as a process | regression cases | failures | cases/s | slowest case (ms) | outcomes |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
  process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
