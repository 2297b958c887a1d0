// What the benchmarks that run the reference CNI plugins share: the check that they can
// run here, and the way they end (an exit status; on a crash, their namespaces removed).

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CNI_BIN } from './peers/systems';

/** Why this machine cannot run bench `name` (root, the CNI plugins), with its exit status; undefined when it can. */
function cannotRun(name: string): { readonly message: string; readonly status: number } | undefined {
  if (process.getuid?.() !== 0) return { message: `bench/${name} needs root (it builds network namespaces); run it with sudo`, status: 4 };
  for (const plugin of ['bridge', 'host-local', 'bandwidth']) {
    if (!existsSync(path.join(CNI_BIN, plugin))) return { message: `the CNI ${plugin} plugin is missing from ${CNI_BIN}: apt-get install containernetworking-plugins (or scripts/setup.sh)`, status: 1 };
  }
  return undefined;
}

/**
 * Runs bench/`name`'s `main` for its exit status, once the machine can run it
 * (cannotRun: otherwise says why and exits with its status); a crash is printed and
 * `cleanup` removes what it left.
 */
export function runBench(name: string, main: () => Promise<number>, cleanup: () => void): void {
  const refused = cannotRun(name);
  if (refused) {
    console.error(refused.message);
    process.exitCode = refused.status;
    return;
  }
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      cleanup();
      process.exitCode = 1;
    },
  );
}
