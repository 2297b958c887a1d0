// Durable writes in line (not through the thread pool), for the records serve writes on
// a pod's ADD path: the plugin's attachment record and the ownership record.

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
