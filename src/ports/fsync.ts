// Durable removals in line (not through the thread pool): the ownership record's and the
// plugin's attachment record's (neither record's write is synced: see ownership.ts and
// cni/store.ts).

import { closeSync, fsyncSync, openSync } from 'node:fs';

/** A rename or unlink is durable once the directory itself is synced. */
export function syncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
