// Durable writes in line (not through the thread pool), for the records serve writes on
// a pod's ADD path: the plugin's attachment record (the ownership record is not synced,
// see ownership.ts, but its removal is).

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
