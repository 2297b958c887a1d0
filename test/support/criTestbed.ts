// A CRI node (test/support/criNode.ts) for one describe: set up before its tests, torn
// down after them, also when they fail (pods removed through CRI, serve stopped, what it
// made destroyed, containerd, its shims, mounts, cgroups, files and namespace removed).
import { afterAll, beforeAll } from 'vitest';
import { RtnlKernel } from '../../src/kernel/rtnl/port';
import { CriNode, type CriNodeOptions } from './criNode';

export interface CriTestbed {
  readonly node: CriNode;
  /** A kernel port for the tests' own reads. */
  kernel: RtnlKernel;
}

export function criTestbed(options: CriNodeOptions): CriTestbed {
  const bed = { node: new CriNode(options) } as CriTestbed;
  beforeAll(async () => {
    bed.kernel = new RtnlKernel();
    await bed.node.setUp();
  }, 120_000);
  afterAll(async () => {
    await bed.kernel?.close();
    await bed.node.tearDown();
  }, 120_000);
  return bed;
}
